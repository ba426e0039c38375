"""reqRealTimeBars: five-second bars, each sent once its interval has closed.

IB: "reqRealTimeBars will create an active subscription that will return a single bar in real
time every five seconds that has the OHLC values over that period"; volume, WAP and count
only for TRADES, the WAP "rounded to minimum increment"; useRTH 1 gives only regular-hours
data (Real Time Bars, https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/).
Quote bars (MIDPOINT, BID, ASK) carry -1 for volume, WAP and count, as historical bars of those
types do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator import codes, market_messages, outgoing
from ibkr_simulator.clock import Clock
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.historical import LiveBar, bar_start, current_bar_start, reference_price
from ibkr_simulator.prices import Quote, round_to_tick
from ibkr_simulator.recipient import Recipient
from ibkr_simulator.trading_calendar import calendar_for

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
    # useRTH=1: bars only in regular trading hours.
    regular_only: bool = False
    bar: LiveBar | None = None
    # Price times size of the bar's trades, for its volume-weighted average price.
    traded_value: float = 0.0


class RealTimeBarService:
    """Builds each subscriber's current five-second bar from the price steps."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._streams: dict[tuple[int, int], RealTimeBarStream] = {}

    def request(
        self,
        recipient: Recipient,
        request_id: int,
        contract: ContractSpec,
        what_to_show: str,
        *,
        regular_only: bool = False,
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
        stream = RealTimeBarStream(recipient, request_id, contract, source, regular_only)
        self._streams[(recipient.connection_id, request_id)] = stream

    @property
    def subscription_count(self) -> int:
        return len(self._streams)

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
            bar = stream.bar
            if bar is not None and start > bar.start:
                self._send(stream, bar, trades=trades)
                stream.bar = bar = None
                stream.traded_value = 0.0
            calendar = calendar_for(is_forex=stream.contract.is_forex)
            if (
                current_bar_start(
                    calendar, now, REAL_TIME_BAR_SECONDS, regular_only=stream.regular_only
                )
                is None
            ):
                continue  # no bars while the market (or its regular session) is closed
            price = reference_price(quote, stream.what_to_show)
            size = quote.last_size if quote.traded and trades else 0.0
            stream.traded_value += price * size
            if bar is None:
                stream.bar = LiveBar(start, price, price, price, price, 0.0, 0)
                stream.bar.advance(start, price, size)
            else:
                bar.advance(start, price, size)

    def _send(self, stream: RealTimeBarStream, bar: LiveBar, *, trades: bool) -> None:
        average = -1.0
        if trades:
            # Volume-weighted, on the tick grid; a bar without trades has its close.
            weighted = stream.traded_value / bar.volume if bar.volume else bar.close
            average = round_to_tick(weighted, stream.contract.min_tick)
        stream.recipient.send(
            market_messages.real_time_bar(
                stream.request_id,
                bar.start,
                (bar.open, bar.high, bar.low, bar.close),
                bar.volume if trades else -1.0,
                average,
                bar.count if trades else -1,
            )
        )
