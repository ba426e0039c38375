"""Market data for callers: lookups, quotes (shared lines), streams and historical bars."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Protocol

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError
from ibkr_grpc.domain.market_data import (
    Bar,
    ContractDetails,
    ContractMatch,
    HistoryRequest,
    Quote,
    SubscriptionFailure,
)
from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.historical_pacing import HistoricalPacer
from ibkr_grpc.services.ports import NoTelemetry, Telemetry
from ibkr_grpc.services.quote_hub import QuoteHub, QuoteItem
from ibkr_grpc.services.stream_merge import follow_buffer

QuoteStreamItem = Quote | SubscriptionFailure | Heartbeat | Marker


class MarketDataSource(Protocol):
    async def search(self, query: str, limit: int) -> list[ContractMatch]: ...
    async def details(self, contract: ContractSpec) -> list[ContractDetails]: ...
    async def snapshot(self, contract: ContractSpec) -> Quote: ...
    async def bars(self, request: HistoryRequest) -> list[Bar]: ...
    def latest(self, con_id: int) -> Quote | None: ...


class ContractQualifier(Protocol):
    async def qualify(self, contract: ContractSpec) -> ContractSpec: ...


class MarketDataService:
    def __init__(
        self,
        source: MarketDataSource,
        qualifier: ContractQualifier,
        hub: QuoteHub,
        monitor: GatewayMonitor,
        *,
        clock: Callable[[], datetime],
        pacer: HistoricalPacer | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._telemetry = telemetry or NoTelemetry()
        self._source = source
        self._qualifier = qualifier
        self._hub = hub
        self._monitor = monitor
        self._clock = clock
        self._qualified: dict[ContractSpec, ContractSpec] = {}
        self._pacer = pacer or HistoricalPacer()

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        cached = self._qualified.get(contract)
        if cached is None:
            cached = self._qualified[contract] = await self._qualifier.qualify(contract)
        return cached

    async def search(self, query: str, limit: int) -> list[ContractMatch]:
        return await self._source.search(query, limit)

    async def details(self, contract: ContractSpec) -> list[ContractDetails]:
        return await self._source.details(contract)

    async def quote(self, contract: ContractSpec) -> Quote:
        qualified = await self.qualify(contract)
        latest = self._source.latest(qualified.con_id)
        if latest is not None and (latest.bid is not None or latest.last is not None):
            return latest
        return await self._source.snapshot(qualified)

    async def bars(self, request: HistoryRequest) -> list[Bar]:
        qualified = await self.qualify(request.contract)
        key = HistoryRequest(
            qualified,
            request.bar_size,
            request.span_count,
            request.span_unit,
            request.end_time,
            request.source,
            request.regular_trading_hours_only,
        )
        return await self._pacer.run(key, lambda: self._source.bars(key))

    async def stream(
        self, contracts: list[ContractSpec], heartbeat: timedelta
    ) -> AsyncGenerator[QuoteStreamItem]:
        qualified: list[ContractSpec] = []
        failures: list[SubscriptionFailure] = []
        for contract in contracts:
            try:
                qualified.append(await self.qualify(contract))
            except ServiceError as error:
                failures.append(SubscriptionFailure(contract, error.reason, error.message))
        buffer: ConflatingBuffer[QuoteItem] = ConflatingBuffer(
            maximum_keys=2 * len(contracts) + 2, on_conflated=self._telemetry.quotes_conflated
        )
        await self._hub.watch(qualified, buffer)
        try:
            for failure in failures:
                yield failure
            live = follow_buffer(buffer, self._monitor.markers(), heartbeat, self._clock)
            async with aclosing(live) as items:
                async for item in items:
                    if isinstance(item, Quote):
                        age = self._clock() - item.receive_time
                        self._telemetry.quote_sent(age.total_seconds())
                    yield item
        finally:
            self._hub.unwatch(qualified, buffer)
