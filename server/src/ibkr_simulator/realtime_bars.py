"""reqRealTimeBars: five-second bars, each sent once its interval has closed."""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator import codes, market_messages, outgoing
from ibkr_simulator.clock import Clock
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.historical import LiveBar, bar_start, reference_price
from ibkr_simulator.prices import Quote
from ibkr_simulator.recipient import Recipient

# IB serves real-time bars of five seconds only.
REAL_TIME_BAR_SECONDS = 5
TRADE_SOURCES = frozenset({"TRADES"})
QUOTE_SOURCES = frozenset({"MIDPOINT", "BID", "ASK"})


@dataclass
class RealTimeBarStream:
    recipient: Recipient
    request_id: int
    contract: ContractSpec
    what_to_show: str
    bar: LiveBar | None = None


class RealTimeBarService:
    """Builds each subscriber's current five-second bar from the price steps."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._streams: dict[tuple[int, int], RealTimeBarStream] = {}

    def request(
        self, recipient: Recipient, request_id: int, contract: ContractSpec, what_to_show: str
    ) -> None:
        source = what_to_show.upper()
        if source not in TRADE_SOURCES | QUOTE_SOURCES or (
            contract.is_forex and source in TRADE_SOURCES
        ):
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.HISTORICAL_DATA_ERROR,
                    f"Historical Market Data Service error message:No data of type {source}",
                )
            )
            return
        stream = RealTimeBarStream(recipient, request_id, contract, source)
        self._streams[(recipient.connection_id, request_id)] = stream

    def cancel(self, recipient: Recipient, request_id: int) -> None:
        self._streams.pop((recipient.connection_id, request_id), None)

    def drop_recipient(self, recipient: Recipient) -> None:
        for key in [key for key in self._streams if key[0] == recipient.connection_id]:
            del self._streams[key]

    def drop_all(self) -> None:
        self._streams.clear()

    def on_step(self, quotes: dict[int, Quote]) -> None:
        if not self._streams:
            return
        now = self._clock()
        start = bar_start(now, REAL_TIME_BAR_SECONDS)
        for stream in list(self._streams.values()):
            quote = quotes.get(stream.contract.con_id)
            if quote is None:
                continue
            trades = stream.what_to_show in TRADE_SOURCES
            price = reference_price(quote, stream.what_to_show)
            size = quote.last_size if quote.traded and trades else 0.0
            bar = stream.bar
            if bar is not None and start > bar.start:
                self._send(stream, bar, trades=trades)
                bar = None
            if bar is None:
                stream.bar = LiveBar(start, price, price, price, price, 0.0, 0)
                stream.bar.advance(start, price, size)
            else:
                bar.advance(start, price, size)

    def _send(self, stream: RealTimeBarStream, bar: LiveBar, *, trades: bool) -> None:
        average = (bar.open + bar.high + bar.low + bar.close) / 4 if trades else -1.0
        stream.recipient.send(
            market_messages.real_time_bar(
                stream.request_id,
                bar.start,
                (bar.open, bar.high, bar.low, bar.close),
                bar.volume if trades else -1.0,
                round(average, 6),
                bar.count if trades else -1,
            )
        )
