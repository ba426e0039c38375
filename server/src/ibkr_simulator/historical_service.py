"""Serves reqHistoricalData: validation, pacing (error 162), bars, and keepUpToDate streams."""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass

from ibkr_simulator import codes, market_messages, outgoing
from ibkr_simulator.clock import Clock, format_ib_datetime, parse_ib_datetime
from ibkr_simulator.config import Limits
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.historical import (
    BarRequest,
    HistoricalRequestError,
    LiveBar,
    current_bar_start,
    generate_bars,
    parse_bar_size,
    parse_duration,
    reference_price,
)
from ibkr_simulator.limits import HistoricalKey, HistoricalPacing
from ibkr_simulator.prices import PriceBook, Quote
from ibkr_simulator.recipient import Recipient
from ibkr_simulator.trading_calendar import calendar_for

ERROR_PREFIX = "Historical Market Data Service error message:"


@dataclass(frozen=True)
class HistoricalQuery:
    """The fields of reqHistoricalData the simulator uses."""

    request_id: int
    contract: ContractSpec
    end: str
    bar_size: str
    duration: str
    what_to_show: str
    format_date: int
    keep_up_to_date: bool
    # useRTH=1: regular trading hours only; 0: the pre-market and after-hours sessions too.
    use_regular_hours: bool = False


@dataclass
class BarStream:
    """One keepUpToDate subscription."""

    recipient: Recipient
    request_id: int
    contract: ContractSpec
    bar_seconds: int
    what_to_show: str
    format_date: int
    regular_only: bool
    bar: LiveBar
    # Simulated time of the next historicalDataUpdate.
    next_update: dt.datetime
    # The bar took in prices since the client last heard of it.
    unsent: bool = False


class HistoricalDataService:
    """Answers historical requests and keeps the current bar of each keepUpToDate request fresh.

    The current bar takes in every price step, but goes to the client only every few seconds
    (`update_seconds`, 4 to 6 by default, drawn per update), as IB's updates of "unfinished
    real time bars as they are available" (EClient.reqHistoricalData's keepUpToDate,
    https://interactivebrokers.github.io/tws-api/historical_bars.html) arrive: not on every
    trade. IB's pages name no cadence; 4-6 s is what issue #13 reports of live gateways.

    A bar that ends with prices the client has not seen yet gets one last update before the
    next bar begins, so that every finished bar the client holds is whole: the gateway merges
    each five-second bar into the keepUpToDate series (userFRM/ibx, a reimplementation written
    against the real gateway, src/engine/hot_loop/hmds/mod.rs LiveBars), so the five seconds
    that close a bar reach it before the next bar starts.
    """

    def __init__(
        self,
        prices: PriceBook,
        clock: Clock,
        limits: Limits,
        seed: int,
        update_seconds: tuple[float, float] = (4.0, 6.0),
    ) -> None:
        self._prices = prices
        self._clock = clock
        self._limits = limits
        self._seed = seed
        self._pacing = HistoricalPacing(limits)
        self._streams: dict[tuple[int, int], BarStream] = {}
        self._update_seconds = update_seconds
        self._cadence = random.Random(seed)  # noqa: S311  a simulation, not cryptography

    def _next_update(self, now: dt.datetime) -> dt.datetime:
        low, high = self._update_seconds
        return now + dt.timedelta(seconds=self._cadence.uniform(low, high))

    def request(self, recipient: Recipient, query: HistoricalQuery) -> None:
        request_id = query.request_id
        key = HistoricalKey(
            query.contract.con_id, query.end, query.duration, query.bar_size, query.what_to_show
        )
        violation = self._pacing.check(key, time.monotonic())
        if violation is not None:
            self._fail(recipient, request_id, violation)
            return
        if query.keep_up_to_date and query.end.strip():
            self._fail(recipient, request_id, "End date not supported with live updates")
            return
        try:
            now = self._clock()
            parse_duration(query.duration)
            bar_request = BarRequest(
                contract=query.contract,
                end=parse_ib_datetime(query.end, now),
                duration=query.duration,
                bar_seconds=parse_bar_size(query.bar_size),
                what_to_show=query.what_to_show.upper(),
                format_date=query.format_date,
                regular_only=query.use_regular_hours,
                calendar=calendar_for(is_forex=query.contract.is_forex),
            )
            quote = self._prices.quote(query.contract.con_id)
            bars = generate_bars(
                bar_request, quote, self._seed, self._limits.historical_maximum_bars
            )
        except (HistoricalRequestError, ValueError) as error:
            self._fail(recipient, request_id, str(error))
            return
        start = bar_request.end - dt.timedelta(seconds=parse_duration(query.duration))
        recipient.send(
            market_messages.historical_data(
                request_id,
                format_ib_datetime(start),
                format_ib_datetime(bar_request.end),
                bars,
            )
        )
        if query.keep_up_to_date and bars:
            live = LiveBar.from_bar(bars[-1], _last_start(bar_request, now))
            self._streams[(recipient.connection_id, request_id)] = BarStream(
                recipient,
                request_id,
                query.contract,
                bar_request.bar_seconds,
                bar_request.what_to_show,
                query.format_date,
                query.use_regular_hours,
                live,
                self._next_update(now),
            )

    @property
    def live_count(self) -> int:
        """keepUpToDate subscriptions held, across connections."""
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
        for stream in list(self._streams.values()):
            quote = quotes.get(stream.contract.con_id)
            if quote is None:
                continue
            calendar = calendar_for(is_forex=stream.contract.is_forex)
            start = current_bar_start(
                calendar, now, stream.bar_seconds, regular_only=stream.regular_only
            )
            if start is None:
                continue  # no bars while the market is closed
            trades = stream.what_to_show in {"TRADES", "ADJUSTED_LAST"}
            if start > stream.bar.start and stream.unsent:
                self._send_update(stream, trades=trades)
            price = reference_price(quote, stream.what_to_show)
            traded_size = quote.last_size if quote.traded and trades else 0.0
            stream.bar.advance(start, price, traded_size)
            stream.unsent = True
            if now < stream.next_update:
                continue
            stream.next_update = self._next_update(now)
            self._send_update(stream, trades=trades)

    def _send_update(self, stream: BarStream, *, trades: bool) -> None:
        bar = stream.bar.to_bar(stream.bar_seconds, stream.format_date, trades=trades)
        stream.recipient.send(market_messages.historical_data_update(stream.request_id, bar))
        stream.unsent = False

    def _fail(self, recipient: Recipient, request_id: int, text: str) -> None:
        recipient.send(
            outgoing.error(
                recipient.server_version,
                request_id,
                codes.HISTORICAL_DATA_ERROR,
                ERROR_PREFIX + text,
            )
        )


def _last_start(request: BarRequest, now: dt.datetime) -> int:
    """The start of the bar a keepUpToDate stream goes on updating: the current one when the
    market is open; when closed, 0, so the first update after the open begins a new bar."""
    current = current_bar_start(
        request.calendar, now, request.bar_seconds, regular_only=request.regular_only
    )
    return 0 if current is None else current
