"""Live bars through ib_async: reqHistoricalData with keepUpToDate, the history and then
historicalDataUpdate for the current bar (ib_async's BarDataList.updateEvent; a later date is a
new bar, appended: wrapper.py historicalDataUpdate)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ib_async import IB, BarDataList, Contract
from ib_async.wrapper import RequestError

from ibkr_grpc.broker.market_data import bar_of, broker_error
from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.subscription_answers import GatewayClock, is_notice, not_connected
from ibkr_grpc.broker.translation import ib_contract
from ibkr_grpc.domain.errors import BrokerTimeoutError, ServiceError
from ibkr_grpc.domain.live_data import LiveBarsRequest
from ibkr_grpc.domain.market_data import Bar, SpanUnit

BarListener = Callable[[LiveBarsRequest, Bar], None]
FailureListener = Callable[[LiveBarsRequest, ServiceError], None]


@dataclass(slots=True)
class _Held:
    bars: BarDataList
    handler: Callable[[BarDataList, bool], None]


class LiveBarsReader:
    def __init__(
        self,
        ib: IB,
        limiter: RequestLimiter,
        *,
        gateway_clock: GatewayClock,
        request_timeout: float,
    ) -> None:
        self._ib = ib
        self._gateway_clock = gateway_clock
        self._limiter = limiter
        self._timeout = request_timeout
        self._held: dict[LiveBarsRequest, _Held] = {}
        self._bar_listeners: list[BarListener] = []
        self._failure_listeners: list[FailureListener] = []
        ib.errorEvent += self._on_error

    def add_bar_listener(self, listener: BarListener) -> None:
        self._bar_listeners.append(listener)

    def add_failure_listener(self, listener: FailureListener) -> None:
        self._failure_listeners.append(listener)

    @property
    def subscriptions(self) -> int:
        return len(self._held)

    async def gateway_time(self) -> datetime | None:
        """The gateway's clock, which the bars' times follow; None if it does not answer."""
        return await self._gateway_clock.now()

    async def start(self, request: LiveBarsRequest, span: tuple[int, SpanUnit]) -> list[Bar]:
        """Subscribe to a qualified contract's bars: the history over `span` back from now
        (IB allows no end time with keepUpToDate), then every update to the listeners."""
        self._cancel(request)
        await self._limiter.acquire("historical_data")
        if not self._ib.isConnected():
            raise not_connected()
        count, unit = span
        started = self._ib.reqHistoricalDataAsync(
            ib_contract(request.contract),
            endDateTime="",
            durationStr=f"{count} {unit.value}",
            barSizeSetting=request.bar_size.value,
            whatToShow=request.source.value,
            useRTH=request.regular_trading_hours_only,
            formatDate=2,
            keepUpToDate=True,
            timeout=0,  # bounded here: ib_async's own timeout answers an empty history
        )
        try:
            async with asyncio.timeout(self._timeout):
                bars = await started
        except RequestError as error:
            raise broker_error(error, request.contract) from error
        except TimeoutError as error:
            message = "IB did not answer the history of the live bars in time"
            raise BrokerTimeoutError(message) from error

        def updated(series: BarDataList, _new_bar: bool) -> None:  # noqa: FBT001  ib_async's event
            if series:
                bar = bar_of(series[-1])
                for listener in tuple(self._bar_listeners):
                    listener(request, bar)

        bars.updateEvent += updated
        self._held[request] = _Held(bars, updated)
        return [bar_of(bar) for bar in bars]

    async def stop(self, request: LiveBarsRequest) -> None:
        if request in self._held and self._ib.isConnected():
            await self._limiter.acquire("cancel_historical_data")
        self._cancel(request)

    def _cancel(self, request: LiveBarsRequest) -> _Held | None:
        """Stop listening to a subscription; cancel it at IB while ib_async still holds it
        (after a reconnect it holds none: the gateway forgot them with the connection)."""
        held = self._held.pop(request, None)
        if held is None:
            return None
        held.bars.updateEvent -= held.handler
        if self._ib.isConnected() and held.bars.reqId in self._ib.wrapper.reqId2Subscriber:
            self._ib.cancelHistoricalData(held.bars)
        return held

    def _on_error(
        self, request_id: int, code: int, message: str, _contract: Contract | None
    ) -> None:
        if is_notice(code):
            return
        for request, held in list(self._held.items()):
            if held.bars.reqId == request_id:
                self._cancel(request)
                error = broker_error(RequestError(request_id, code, message), request.contract)
                for listener in tuple(self._failure_listeners):
                    listener(request, error)
