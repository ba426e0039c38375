"""Streaming market data: top of book, last trade and RTVolume per line, snapshots, tick-by-tick.

Like IB, a line sends its full state once and then only the ticks that changed on each step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ibkr_simulator import codes, market_messages, outgoing
from ibkr_simulator.clock import Clock
from ibkr_simulator.combo_pricing import combo_quote
from ibkr_simulator.combos import Combo
from ibkr_simulator.config import Limits
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.market_messages import DELAYED_TICK_TYPES, OptionComputation, TickType
from ibkr_simulator.option_pricing import Greeks
from ibkr_simulator.option_quotes import computation_at
from ibkr_simulator.outgoing import Message
from ibkr_simulator.prices import PriceBook, Quote
from ibkr_simulator.recipient import Recipient

LIVE = 1
FROZEN = 2
DELAYED = 3
DELAYED_FROZEN = 4
# Generic tick list entry that asks for RTVolume (tick 48).
RT_VOLUME_GENERIC_TICK = "233"

TICK_BY_TICK_KINDS = {"Last": 1, "AllLast": 2, "BidAsk": 3, "MidPoint": 4}
# "Real time tick-by-tick data is currently not available for options" (Tick By Tick Data,
# https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/); the refusal is 10189
# "Failed to request tick-by-tick data.<type> tick-by-tick requests are not supported for ..."
# as gateways word it (logged in nautechsystems/nautilus_trader's IB client).
TICK_BY_TICK_UNSUPPORTED_TYPES = frozenset({"OPT", "FOP"})

# Generic ticks IB accepts in a reqMktData list ("Generic tick required" in
# https://interactivebrokers.github.io/tws-api/tick_types.html); the simulator serves only 233.
GENERIC_TICKS = frozenset(
    {
        100, 101, 104, 105, 106, 162, 165, 221, 225, 232, 233, 236, 256, 258, 291, 292, 293,
        294, 295, 318, 375, 411, 456, 460, 576, 577, 578, 586, 587, 588, 595, 614, 619,
    }
)  # fmt: skip
VALIDATION_PREFIX = "Error validating request.-'bQ' : cause - "
# The text gateways send with 10197, as published logs show it (e.g.
# https://github.com/quantverse/ptltrader/issues/1: "Error code 10197 No market data during
# competing live session"); IB's table words it "No market data during competing session".
COMPETING_SESSION_TEXT = "No market data during competing live session"


@dataclass
class MarketDataLine:
    """One reqMktData subscription and the values it last sent."""

    recipient: Recipient
    request_id: int
    contract: ContractSpec
    rt_volume: bool
    delayed: bool
    sent: dict[int, float] = field(default_factory=dict)
    # A combination's line: its quote is built from its legs' on every step (combo_pricing).
    combo: Combo | None = None
    # Option lines: the computation last sent for each option computation tick type.
    computations: dict[int, OptionComputation] = field(default_factory=dict)


@dataclass
class TickByTickLine:
    """One reqTickByTickData subscription."""

    recipient: Recipient
    request_id: int
    contract: ContractSpec
    kind: int
    last: tuple[float, ...] = ()
    # BidAsk only: "omit updates that reflect only changes in size, and not price".
    ignore_size: bool = False


LineKey = tuple[int, int]


class MarketDataEngine:
    """All market-data lines of all connections, fed by the price book on every step."""

    def __init__(
        self,
        prices: PriceBook,
        clock: Clock,
        limits: Limits,
        *,
        subscribed: bool = True,
        snapshot_end_seconds: float = 0.0,
    ) -> None:
        self._prices = prices
        self._clock = clock
        self._line_limit = limits.market_data_lines
        self._tick_by_tick_limit = limits.tick_by_tick_subscriptions
        # Whether the account holds live data permissions; without them only delayed data flows.
        self._subscribed = subscribed
        self._lines: dict[LineKey, MarketDataLine] = {}
        self._tick_by_tick: dict[LineKey, TickByTickLine] = {}
        self._snapshot_end_seconds = snapshot_end_seconds
        # Snapshots whose ticks went out and whose tickSnapshotEnd is due; each timer is
        # cancelled with its connection or with cancelMktData.
        self._pending_snapshots: dict[LineKey, asyncio.TimerHandle] = {}
        # Another session of the same user holds the market data: lines stay but do not tick,
        # and new requests get 10197.
        self.competing_session = False

    @property
    def tick_by_tick_count(self) -> int:
        """Tick-by-tick subscriptions held, across connections."""
        return len(self._tick_by_tick)

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def set_competing_session(self, *, active: bool) -> None:
        self.competing_session = active

    def _refuse_during_competing_session(self, recipient: Recipient, request_id: int) -> bool:
        if not self.competing_session:
            return False
        recipient.send(
            outgoing.error(
                recipient.server_version,
                request_id,
                codes.NO_MARKET_DATA_DURING_COMPETING_SESSION,
                COMPETING_SESSION_TEXT,
            )
        )
        return True

    def request(
        self,
        recipient: Recipient,
        request_id: int,
        contract: ContractSpec,
        *,
        generic_ticks: str,
        snapshot: bool,
        data_type: int,
        combo: Combo | None = None,
    ) -> None:
        key = (recipient.connection_id, request_id)
        version = recipient.server_version
        if key in self._lines:
            recipient.send(
                outgoing.error(
                    version, request_id, codes.DUPLICATE_TICKER_ID, "Duplicate ticker id"
                )
            )
            return
        refusal = _generic_tick_refusal(generic_ticks, snapshot=snapshot, contract=contract)
        if refusal is not None:
            recipient.send(outgoing.error(version, request_id, codes.NOT_VALID_REQUEST, refusal))
            return
        delayed = data_type in {DELAYED, DELAYED_FROZEN} and not self._subscribed
        if not self._subscribed and not delayed:
            recipient.send(
                outgoing.error(
                    version,
                    request_id,
                    codes.NO_MARKET_DATA_SUBSCRIPTION,
                    "Requested market data is not subscribed. Delayed market data is available.",
                )
            )
            return
        if self._refuse_during_competing_session(recipient, request_id):
            return
        if not snapshot and len(self._lines) >= self._line_limit:
            recipient.send(
                outgoing.error(
                    version,
                    request_id,
                    codes.MAXIMUM_TICKERS_REACHED,
                    f"Max number of tickers has been reached (limit {self._line_limit})",
                )
            )
            return
        line = MarketDataLine(
            recipient,
            request_id,
            contract,
            rt_volume=RT_VOLUME_GENERIC_TICK in generic_ticks.split(","),
            delayed=delayed,
            combo=combo,
        )
        exchange = contract.exchange if contract.is_forex else "9c0001"
        recipient.send(
            market_messages.tick_request_parameters(request_id, contract.min_tick, exchange)
        )
        if data_type != LIVE or delayed:
            reported = DELAYED if delayed else LIVE
            recipient.send(market_messages.market_data_type(request_id, reported))
        self._send_changes(line, self._line_quote(line, {}), initial=True)
        if snapshot:
            self._end_snapshot_later(recipient, request_id)
            return
        self._lines[key] = line

    def _end_snapshot_later(self, recipient: Recipient, request_id: int) -> None:
        key = (recipient.connection_id, request_id)
        if self._snapshot_end_seconds <= 0:
            recipient.send(market_messages.tick_snapshot_end(request_id))
            return

        def end() -> None:
            if self._pending_snapshots.pop(key, None) is not None:
                recipient.send(market_messages.tick_snapshot_end(request_id))

        loop = asyncio.get_running_loop()
        self._pending_snapshots[key] = loop.call_later(self._snapshot_end_seconds, end)

    def cancel(self, recipient: Recipient, request_id: int) -> None:
        key = (recipient.connection_id, request_id)
        pending = self._pending_snapshots.pop(key, None)
        if pending is not None:
            pending.cancel()
            return
        if self._lines.pop(key, None) is None:
            # IB's 300 for a cancel of a line it does not hold (message-code table).
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.CANNOT_FIND_TICKER_ID,
                    f"Can't find EId with tickerId:{request_id}",
                )
            )

    def request_tick_by_tick(
        self,
        recipient: Recipient,
        request_id: int,
        contract: ContractSpec,
        kind_name: str,
        *,
        ignore_size: bool = False,
    ) -> None:
        kind = TICK_BY_TICK_KINDS.get(kind_name)
        if kind is None:
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.NOT_VALID_REQUEST,
                    f"Error validating request: invalid tick-by-tick type {kind_name!r}",
                )
            )
            return
        if contract.sec_type in TICK_BY_TICK_UNSUPPORTED_TYPES:
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.TICK_BY_TICK_NOT_SUPPORTED,
                    f"Failed to request tick-by-tick data.{kind_name} tick-by-tick requests "
                    f"are not supported for {contract.symbol}.",
                )
            )
            return
        if self._refuse_during_competing_session(recipient, request_id):
            return
        if len(self._tick_by_tick) >= self._tick_by_tick_limit:
            recipient.send(
                outgoing.error(
                    recipient.server_version,
                    request_id,
                    codes.MAXIMUM_TICK_BY_TICK_REACHED,
                    "Max number of tick-by-tick requests has been reached.",
                )
            )
            return
        line = TickByTickLine(recipient, request_id, contract, kind, ignore_size=ignore_size)
        self._tick_by_tick[(recipient.connection_id, request_id)] = line
        self._send_tick_by_tick(line, self._prices.quote(contract.con_id), initial=True)

    def cancel_tick_by_tick(self, recipient: Recipient, request_id: int) -> None:
        self._tick_by_tick.pop((recipient.connection_id, request_id), None)

    def drop_recipient(self, recipient: Recipient) -> None:
        connection = recipient.connection_id
        for key in [key for key in self._lines if key[0] == connection]:
            del self._lines[key]
        for key in [key for key in self._tick_by_tick if key[0] == connection]:
            del self._tick_by_tick[key]
        for key in [key for key in self._pending_snapshots if key[0] == connection]:
            self._pending_snapshots.pop(key).cancel()

    def drop_all(self) -> None:
        """IB's 1101 (data lost): every subscription is gone and must be requested again."""
        self._lines.clear()
        self._tick_by_tick.clear()
        for pending in self._pending_snapshots.values():
            pending.cancel()
        self._pending_snapshots.clear()

    def on_step(self, quotes: dict[int, Quote]) -> None:
        if self.competing_session:
            return  # the other session has the data; held lines resume when it ends
        for line in list(self._lines.values()):
            if line.combo is not None:
                if any(quotes.get(leg.contract.con_id) for leg in line.combo.legs):
                    self._send_changes(line, self._line_quote(line, quotes), initial=False)
                continue
            quote = quotes.get(line.contract.con_id)
            if quote is not None:
                self._send_changes(line, quote, initial=False)
        for tick_line in list(self._tick_by_tick.values()):
            quote = quotes.get(tick_line.contract.con_id)
            if quote is not None:
                self._send_tick_by_tick(tick_line, quote, initial=False)

    def _line_quote(self, line: MarketDataLine, quotes: dict[int, Quote]) -> Quote:
        """The line's quote now: its instrument's, or its combination's from the legs'."""
        if line.combo is None:
            return quotes.get(line.contract.con_id) or self._prices.quote(line.contract.con_id)
        return combo_quote(
            line.combo, lambda con_id: quotes.get(con_id) or self._prices.quote(con_id)
        )

    def _send_changes(self, line: MarketDataLine, quote: Quote, *, initial: bool) -> None:
        messages: list[Message] = []
        request_id = line.request_id

        def tick(tick_type: int) -> int:
            return DELAYED_TICK_TYPES.get(tick_type, tick_type) if line.delayed else tick_type

        def changed(tick_type: int, value: float) -> bool:
            if line.sent.get(tick_type) == value:
                return False
            line.sent[tick_type] = value
            return True

        for price_type, size_type, price, size in (
            (TickType.BID, TickType.BID_SIZE, quote.bid, quote.bid_size),
            (TickType.ASK, TickType.ASK_SIZE, quote.ask, quote.ask_size),
        ):
            price_changed = changed(price_type, price)
            size_changed = changed(size_type, size)
            if price_changed:
                messages.append(
                    market_messages.tick_price(request_id, tick(price_type), price, size)
                )
            elif size_changed:
                messages.append(market_messages.tick_size(request_id, tick(size_type), size))
        forex = line.contract.is_forex
        if not forex and (initial or quote.traded):
            line.sent[TickType.LAST] = quote.last
            messages.append(
                market_messages.tick_price(
                    request_id, tick(TickType.LAST), quote.last, quote.last_size
                )
            )
            messages.append(
                market_messages.tick_size(request_id, tick(TickType.LAST_SIZE), quote.last_size)
            )
            if changed(TickType.VOLUME, quote.volume):
                messages.append(
                    market_messages.tick_size(request_id, tick(TickType.VOLUME), quote.volume)
                )
            now = self._clock()
            messages.append(
                market_messages.tick_string(
                    request_id, tick(TickType.LAST_TIMESTAMP), str(int(now.timestamp()))
                )
            )
            if line.rt_volume and quote.traded and not line.delayed:
                milliseconds = int(now.timestamp() * 1000)
                rt_volume = f"{quote.last};{quote.last_size:g};{milliseconds};{quote.volume:g};{quote.last};true"
                messages.append(
                    market_messages.tick_string(request_id, TickType.RT_VOLUME, rt_volume)
                )
        for tick_type, value in (
            (TickType.HIGH, quote.high),
            (TickType.LOW, quote.low),
            (TickType.CLOSE, quote.close),
            (TickType.OPEN, quote.open),
        ):
            if changed(tick_type, value):
                messages.append(market_messages.tick_price(request_id, tick(tick_type), value, 0))
        if line.contract.is_option:
            for tick_type, computation in self._option_computations(line, quote, initial=initial):
                messages.append(
                    market_messages.tick_option_computation(
                        request_id, tick(tick_type), computation
                    )
                )
        for message in messages:
            line.recipient.send(message)

    def _option_computations(
        self, line: MarketDataLine, quote: Quote, *, initial: bool
    ) -> list[tuple[int, OptionComputation]]:
        """IB's option computation ticks that changed: the model's (13) and those implied by
        the bid (10), the ask (11) and a new trade (12)."""
        analytics = self._prices.option_analytics(line.contract.con_id)
        terms = analytics.terms
        underlying = terms.underlying_price
        model = analytics.model
        candidates = [
            (TickType.MODEL_OPTION_COMPUTATION, _computation(model, model.price, underlying)),
            (
                TickType.BID_OPTION_COMPUTATION,
                _computation(computation_at(terms, quote.bid), quote.bid, underlying),
            ),
            (
                TickType.ASK_OPTION_COMPUTATION,
                _computation(computation_at(terms, quote.ask), quote.ask, underlying),
            ),
        ]
        if initial or quote.traded:
            candidates.append(
                (
                    TickType.LAST_OPTION_COMPUTATION,
                    _computation(computation_at(terms, quote.last), quote.last, underlying),
                )
            )
        changed: list[tuple[int, OptionComputation]] = []
        for tick_type, computation in candidates:
            if line.computations.get(tick_type) != computation:
                line.computations[tick_type] = computation
                changed.append((tick_type, computation))
        return changed

    def _send_tick_by_tick(self, line: TickByTickLine, quote: Quote, *, initial: bool) -> None:
        epoch = int(self._clock().timestamp())
        message: Message | None = None
        if line.kind in {1, 2}:
            if quote.traded and not initial and not line.contract.is_forex:
                exchange = line.contract.primary_exchange or line.contract.exchange
                message = market_messages.tick_by_tick_trade(
                    line.request_id, line.kind, epoch, quote.last, quote.last_size, exchange
                )
        elif line.kind == 3:
            state = (quote.bid, quote.ask, quote.bid_size, quote.ask_size)
            compared = state[:2] if line.ignore_size else state
            if compared != line.last:
                line.last = compared
                message = market_messages.tick_by_tick_bid_ask(line.request_id, epoch, *state)
        else:
            midpoint = round(quote.midpoint, 8)
            if (midpoint,) != line.last:
                line.last = (midpoint,)
                message = market_messages.tick_by_tick_midpoint(line.request_id, epoch, midpoint)
        if message is not None:
            line.recipient.send(message)


def _computation(greeks: Greeks | None, price: float, underlying: float) -> OptionComputation:
    """One tickOptionComputation's fields, rounded so that an unchanged market sends nothing;
    without a volatility (a price below the option's intrinsic value) only the prices go."""
    if greeks is None:
        return OptionComputation(None, None, price, None, None, None, None, underlying)
    return OptionComputation(
        implied_volatility=round(greeks.volatility, 6),
        delta=round(greeks.delta, 6),
        option_price=round(price, 6),
        present_value_dividend=0.0,
        gamma=round(greeks.gamma, 6),
        vega=round(greeks.vega, 6),
        theta=round(greeks.theta, 6),
        underlying_price=round(underlying, 6),
    )


def _generic_tick_refusal(
    generic_ticks: str, *, snapshot: bool, contract: ContractSpec
) -> str | None:
    """IB's 321 text for a generic tick list it refuses, or None when the list is acceptable."""
    entries = [entry.strip() for entry in generic_ticks.split(",") if entry.strip()]
    if not entries:
        return None
    if snapshot:
        return (
            VALIDATION_PREFIX
            + "Snapshot market data subscription is not applicable to generic ticks"
        )
    if all(entry.isdigit() and int(entry) in GENERIC_TICKS for entry in entries):
        return None
    legal = ",".join(str(tick) for tick in sorted(GENERIC_TICKS))
    return (
        VALIDATION_PREFIX
        + f"Incorrect generic tick list of {generic_ticks}.  "
        + f"Legal ones for ({contract.sec_type}) are: {legal}"
    )
