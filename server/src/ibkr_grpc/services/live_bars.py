"""Live-bar streams: one IB keepUpToDate subscription per set of parameters (contract, bar size,
span, source, hours), shared by every stream.

The service holds each subscription's series (the history, then every new or updated bar,
trimmed to the history's length) so that a stream joining later starts from it. IB keeps no
subscription across a reconnect: the server subscribes again for the history since the last
bar it holds (the tail, by the gateway's clock) and sends the bars that differ, so every stream
goes on with no bar missed and none repeated. A stream's buffer is keyed by bar start time:
a slow reader gets each bar's newest state.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError
from ibkr_grpc.domain.live_data import BarHistory, LiveBarsRequest, SubscriptionEnded
from ibkr_grpc.domain.market_data import Bar, BarSize, HistoryRequest, SpanUnit
from ibkr_grpc.domain.streams import Heartbeat, Marker, MarkerType
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.historical_pacing import HistoricalPacer
from ibkr_grpc.services.shared_subscriptions import SharedSubscriptions
from ibkr_grpc.services.stream_merge import follow_buffer

_log = structlog.get_logger("ibkr_grpc.live_bars")
BarStreamItem = BarHistory | Bar | Heartbeat | Marker
BarBufferItem = Bar | SubscriptionEnded
# The most bars a series holds (and a span may ask for); the history goes out this many a
# message.
MAXIMUM_LIVE_BARS = 10_000
HISTORY_BARS_PER_MESSAGE = 1_000
# The bars a stream remembers having sent, to send none twice.
SENT_REMEMBERED = 64
DAY_SECONDS = 86_400
BAR_SECONDS = {
    BarSize.SECONDS_1: 1,
    BarSize.SECONDS_5: 5,
    BarSize.SECONDS_10: 10,
    BarSize.SECONDS_15: 15,
    BarSize.SECONDS_30: 30,
    BarSize.MINUTES_1: 60,
    BarSize.MINUTES_2: 120,
    BarSize.MINUTES_3: 180,
    BarSize.MINUTES_5: 300,
    BarSize.MINUTES_10: 600,
    BarSize.MINUTES_15: 900,
    BarSize.MINUTES_20: 1_200,
    BarSize.MINUTES_30: 1_800,
    BarSize.HOURS_1: 3_600,
    BarSize.HOURS_2: 7_200,
    BarSize.HOURS_3: 10_800,
    BarSize.HOURS_4: 14_400,
    BarSize.HOURS_8: 28_800,
    BarSize.DAYS_1: DAY_SECONDS,
    BarSize.WEEKS_1: 7 * DAY_SECONDS,
    BarSize.MONTHS_1: 31 * DAY_SECONDS,
}
SPAN_SECONDS = {
    SpanUnit.SECONDS: 1,
    SpanUnit.DAYS: DAY_SECONDS,
    SpanUnit.WEEKS: 7 * DAY_SECONDS,
    SpanUnit.MONTHS: 31 * DAY_SECONDS,
    SpanUnit.YEARS: 366 * DAY_SECONDS,
}
# IB keeps bars up to date for bar sizes of 5 seconds and up.
SMALLEST_LIVE_BAR = BarSize.SECONDS_5


def bars_in_span(bar_size: BarSize, count: int, unit: SpanUnit) -> int:
    """How many bars a span holds at most (days counted whole, trading or not)."""
    return math.ceil(count * SPAN_SECONDS[unit] / BAR_SECONDS[bar_size])


def tail_span(bar_size: BarSize, since: datetime, now: datetime) -> tuple[int, SpanUnit]:
    """A span back from `now` that covers the bar that started at `since` and one before."""
    seconds = max(0, math.ceil((now - since).total_seconds())) + 2 * BAR_SECONDS[bar_size]
    if seconds <= DAY_SECONDS and BAR_SECONDS[bar_size] < DAY_SECONDS:
        return seconds, SpanUnit.SECONDS
    return math.ceil(seconds / DAY_SECONDS), SpanUnit.DAYS


class LiveBarsSource(Protocol):
    async def start(self, request: LiveBarsRequest, span: tuple[int, SpanUnit]) -> list[Bar]: ...
    async def stop(self, request: LiveBarsRequest) -> None: ...
    async def gateway_time(self) -> datetime | None: ...


@dataclass(slots=True)
class _Series:
    bars: list[Bar]
    # The history's length: the series slides forward, keeping this many bars.
    keep: int


class LiveBarsService:
    def __init__(
        self,
        source: LiveBarsSource,
        qualify: Callable[[ContractSpec], Awaitable[ContractSpec]],
        monitor: GatewayMonitor,
        *,
        clock: Callable[[], datetime],
        linger_seconds: float,
        pacer: HistoricalPacer,
    ) -> None:
        self._source = source
        self._qualify = qualify
        self._monitor = monitor
        self._clock = clock
        self._pacer = pacer
        self._series: dict[LiveBarsRequest, _Series] = {}
        self._refetches: set[asyncio.Task[None]] = set()
        self._subscriptions: SharedSubscriptions[
            LiveBarsRequest, ConflatingBuffer[BarBufferItem]
        ] = SharedSubscriptions(self._open, self._close, linger_seconds=linger_seconds)

    @property
    def subscriptions(self) -> int:
        return len(self._subscriptions)

    async def _fetch(self, request: LiveBarsRequest, span: tuple[int, SpanUnit]) -> list[Bar]:
        """Subscribe, within IB's historical pacing (the pacer's key is made unique by the
        time, so no answer is shared: each is a subscription)."""
        count, unit = span
        key = HistoryRequest(
            request.contract,
            request.bar_size,
            count,
            unit,
            self._clock(),
            request.source,
            request.regular_trading_hours_only,
        )
        return await self._pacer.run(key, lambda: self._source.start(request, span))

    async def _open(self, request: LiveBarsRequest) -> None:
        bars = await self._fetch(request, (request.span_count, request.span_unit))
        self._series[request] = _Series(bars, keep=len(bars) or MAXIMUM_LIVE_BARS)

    async def _close(self, request: LiveBarsRequest) -> None:
        self._series.pop(request, None)
        await self._source.stop(request)

    def bar_received(self, request: LiveBarsRequest, bar: Bar) -> None:
        """The reader's listener: the current bar changed, or a new one began."""
        series = self._series.get(request)
        if series is not None:
            self._merge(request, series, [bar])

    def _merge(self, request: LiveBarsRequest, series: _Series, bars: list[Bar]) -> None:
        """Put `bars` into the series by start time; hand the ones that changed it to every
        stream, oldest first."""
        changed: list[Bar] = []
        for bar in bars:
            held = series.bars
            if not held or bar.start_time > held[-1].start_time:
                held.append(bar)
                changed.append(bar)
                continue
            index = bisect.bisect_left(held, bar.start_time, key=lambda item: item.start_time)
            if held[index].start_time != bar.start_time:
                held.insert(index, bar)  # a bar missed while the gateway was away
                changed.append(bar)
            elif held[index] != bar:
                held[index] = bar
                changed.append(bar)
        del series.bars[: max(0, len(series.bars) - series.keep)]
        buffers = self._subscriptions.watchers(request)
        for bar in changed:
            for buffer in buffers:
                buffer.put(bar.start_time, bar)

    def subscription_failed(self, request: LiveBarsRequest, error: ServiceError) -> None:
        _log.warning("live bars ended", symbol=request.contract.symbol, error=error.message)
        self._series.pop(request, None)
        for buffer in self._subscriptions.drop(request):
            buffer.put("ended", SubscriptionEnded(error))

    async def reopen(self) -> None:
        """After a reconnect (or IB's 1101): each held series subscribes again for its tail, in
        tasks of its own, so that the session is not held up by the history requests."""
        for request in self._subscriptions.held():
            task = asyncio.create_task(self._refetch(request), name="live-bars-refetch")
            self._refetches.add(task)
            task.add_done_callback(self._refetched)

    def _refetched(self, task: asyncio.Task[None]) -> None:
        self._refetches.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("refetching live bars failed", exc_info=task.exception())

    async def _refetch(self, request: LiveBarsRequest) -> None:
        series = self._series.get(request)
        if series is None:
            return
        span = (request.span_count, request.span_unit)
        now = await self._source.gateway_time()
        if series.bars and now is not None:
            span = tail_span(request.bar_size, series.bars[-1].start_time, now)
        try:
            bars = await self._fetch(request, span)
        except ServiceError as error:
            self.subscription_failed(request, error)
            return
        if self._series.get(request) is not series:
            # Released (or failed) while the tail was on its way: the new subscription goes.
            await self._source.stop(request)
            return
        self._merge(request, series, bars)

    async def close(self) -> None:
        for task in self._refetches:
            task.cancel()
        await asyncio.gather(*self._refetches, return_exceptions=True)
        await self._subscriptions.close()

    async def stream(
        self, request: LiveBarsRequest, heartbeat: timedelta
    ) -> AsyncGenerator[BarStreamItem]:
        """The history (BarHistory messages, then SNAPSHOT_COMPLETE), then each bar that
        changes, with gateway markers and heartbeats."""
        key = replace(request, contract=await self._qualify(request.contract))
        buffer: ConflatingBuffer[BarBufferItem] = ConflatingBuffer(maximum_keys=MAXIMUM_LIVE_BARS)
        await self._subscriptions.join(key, buffer)
        try:
            sent: dict[datetime, Bar] = {}
            series = self._series.get(key)
            history = list(series.bars) if series is not None else []
            for start in range(0, len(history), HISTORY_BARS_PER_MESSAGE):
                yield BarHistory(tuple(history[start : start + HISTORY_BARS_PER_MESSAGE]))
            for bar in history[-SENT_REMEMBERED:]:
                sent[bar.start_time] = bar
            yield Marker(MarkerType.SNAPSHOT_COMPLETE, self._clock())
            live = follow_buffer(buffer, self._monitor.markers(), heartbeat, self._clock)
            async with aclosing(live) as items:
                async for item in items:
                    if isinstance(item, SubscriptionEnded):
                        raise item.error
                    if isinstance(item, Bar):
                        if sent.get(item.start_time) == item:
                            continue
                        sent[item.start_time] = item
                        if len(sent) > SENT_REMEMBERED:
                            del sent[min(sent)]
                    yield item
        finally:
            self._subscriptions.leave(key, buffer)
