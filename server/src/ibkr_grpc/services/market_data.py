"""Market data for callers: lookups, quotes (shared lines), streams and historical bars."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import SecurityType
from ibkr_grpc.domain.errors import GatewayUnavailableError, InvalidContractError, ServiceError
from ibkr_grpc.domain.market_data import (
    Bar,
    ContractDetails,
    ContractMatch,
    HistoryRequest,
    Quote,
    QuoteBatch,
    SubscriptionFailure,
)
from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.cache_codec import (
    contract_key,
    decode_contract,
    decode_details,
    decode_quote,
    encode_contract,
    encode_details,
    encode_quote,
)
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.historical_pacing import HistoricalPacer
from ibkr_grpc.services.ports import Cache, MessageBus, NoTelemetry, Telemetry
from ibkr_grpc.services.quote_hub import QuoteItem
from ibkr_grpc.services.quote_leases import FollowerQuoteHub, LeaseQualifier
from ibkr_grpc.services.single_flight import SingleFlight
from ibkr_grpc.services.stream_merge import follow_buffer, follow_buffer_in_batches

_log = structlog.get_logger("ibkr_grpc.market_data")
QuoteStreamItem = Quote | QuoteBatch | SubscriptionFailure | Heartbeat | Marker
# A cached quote is fresh this long; contract lookups are cached for a day.
QUOTE_FRESH_SECONDS = 2.0
LOOKUP_SECONDS = 86_400.0
# A contract IB does not know is refused from memory this long (and at most this many kept),
# so that screens asking for it again and again do not spend the shared request limiter.
UNKNOWN_CONTRACT_SECONDS = 60.0
UNKNOWN_CONTRACTS_KEPT = 10_000
# Contracts whose newest quote is written to Redis at once in a publication cycle.
PUBLISH_CONCURRENCY = 16
PUBLISH_INTERVAL_SECONDS = 0.25
OWNER_WAIT_SECONDS = 5.0


class QuoteLines(Protocol):
    """Where streams get quotes from: IB lines held here (QuoteHub), or the lines another
    server process holds, through the bus (FollowerQuoteHub)."""

    @property
    def lines_in_use(self) -> int: ...

    async def watch(
        self, contracts: list[ContractSpec], buffer: ConflatingBuffer[QuoteItem]
    ) -> None: ...

    def unwatch(
        self, contracts: list[ContractSpec], buffer: ConflatingBuffer[QuoteItem]
    ) -> None: ...


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
        hub: QuoteLines,
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
        self._qualifying: SingleFlight[ContractSpec] = SingleFlight()
        self._unknown: dict[ContractSpec, tuple[datetime, InvalidContractError]] = {}
        self._looking_up: SingleFlight[list[ContractDetails]] = SingleFlight()
        self._pacer = pacer or HistoricalPacer()
        self._cache: Cache | None = None
        self._bus: MessageBus | None = None
        self._unpublished: dict[int, Quote] = {}
        self._follower: FollowerQuoteHub | None = None
        self._publisher: asyncio.Task[None] | None = None

    # ---- sharing with other server processes ------------------------------------------

    def follow(self, hub: FollowerQuoteHub, cache: Cache) -> None:
        """Serve quotes from the lines another server process holds (this one has no IB
        session): streams read its quote channels, lookups go through its leases."""
        self._hub = hub
        self._follower = hub
        self._cache = cache
        self._qualifier = LeaseQualifier(hub, cache)

    def share(self, cache: Cache, bus: MessageBus) -> None:
        """Start sharing through the cache (latest quotes, contract lookups) and the bus (a
        channel per contract, "quotes.CON_ID"), so other server processes can use them."""
        self._cache, self._bus = cache, bus
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_quotes(), name="quote-publisher")
            self._publisher.add_done_callback(_log_publisher_failure)

    async def stop(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)

    def quote_received(self, quote: Quote) -> None:
        """The reader's quote listener: kept for the next publication (latest per contract)."""
        if self._publisher is not None:
            self._unpublished[quote.contract.con_id] = quote

    async def _publish_quotes(self) -> None:
        """Every quarter second, each contract's newest quote. The bus and cache never raise
        for Redis being down, and time out when it hangs; a cycle then takes longer, and the
        quotes that arrive meanwhile are conflated into the next one. A cycle's writes go
        PUBLISH_CONCURRENCY at a time (one after the other, 50 contracts took longer than the
        quarter second on a busy owner: bench/fanout_scaling.py measured 1.7-3 publications a
        contract a second instead of 4), and the next cycle starts a quarter second after the
        last one started, not after it ended."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            started += PUBLISH_INTERVAL_SECONDS
            await asyncio.sleep(max(0.0, started - loop.time()))
            started = max(started, loop.time() - PUBLISH_INTERVAL_SECONDS)
            pending, self._unpublished = self._unpublished, {}
            writes = [self._publish_one(con_id, quote) for con_id, quote in pending.items()]
            for first in range(0, len(writes), PUBLISH_CONCURRENCY):
                await asyncio.gather(*writes[first : first + PUBLISH_CONCURRENCY])

    async def _publish_one(self, con_id: int, quote: Quote) -> None:
        payload = encode_quote(quote)
        if self._cache is not None:
            await self._cache.set(f"quote:{con_id}", payload, ttl_seconds=QUOTE_FRESH_SECONDS)
        if self._bus is not None:
            await self._bus.publish(f"quotes.{con_id}", payload)

    def remember_qualified(self, contracts: list[ContractSpec]) -> None:
        """Contracts IB has just described in full (an option chain's, say): they qualify to
        themselves, with no lookup of their own."""
        for contract in contracts:
            if contract.con_id:
                self._qualified.setdefault(contract, contract)

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        if contract.security_type is SecurityType.CONTINUOUS_FUTURE:
            # Its front month rolls at every expiry: asked anew each time, never kept.
            return await self._qualifier.qualify(contract)
        cached = self._qualified.get(contract)
        if cached is not None:
            return cached
        refused = self._unknown.get(contract)
        if refused is not None:
            until, error = refused
            if self._clock() < until:
                raise error.with_traceback(None)
            del self._unknown[contract]
        return await self._qualifying.run(contract, lambda: self._qualify(contract))

    async def _qualify(self, contract: ContractSpec) -> ContractSpec:
        key = f"qualified:{contract_key(contract)}"
        stored = await self._cache.get(key) if self._cache else None
        if stored is not None:
            cached = decode_contract(stored)
        else:
            try:
                cached = await self._qualifier.qualify(contract)
            except InvalidContractError as error:
                # Remembered here, inside the shared lookup, so that it is in place before
                # the lookup's waiters (or a caller arriving meanwhile) resume.
                if len(self._unknown) >= UNKNOWN_CONTRACTS_KEPT:
                    self._unknown.clear()
                until = self._clock() + timedelta(seconds=UNKNOWN_CONTRACT_SECONDS)
                self._unknown[contract] = (until, error)
                raise
            if self._cache is not None:
                await self._cache.set(key, encode_contract(cached), ttl_seconds=LOOKUP_SECONDS)
        self._qualified[contract] = cached
        return cached

    async def search(self, query: str, limit: int) -> list[ContractMatch]:
        return await self._source.search(query, limit)

    async def details(self, contract: ContractSpec) -> list[ContractDetails]:
        return await self._looking_up.run(contract, lambda: self._details(contract))

    async def _details(self, contract: ContractSpec) -> list[ContractDetails]:
        if contract.security_type is SecurityType.CONTINUOUS_FUTURE:
            return await self._source.details(contract)  # the front month rolls: never kept
        key = f"details:{contract_key(contract)}"
        stored = await self._cache.get(key) if self._cache else None
        if stored is not None:
            return decode_details(stored)
        details = await self._source.details(contract)
        if self._cache is not None and details:
            await self._cache.set(key, encode_details(details), ttl_seconds=LOOKUP_SECONDS)
        return details

    def held_quote(self, contract: ContractSpec) -> Quote | None:
        """The latest quote of a line this process holds for the (qualified) contract, if it
        has prices: no request to IB."""
        latest = self._source.latest(contract.con_id) if contract.con_id else None
        if latest is not None and (latest.bid is not None or latest.last is not None):
            return latest
        return None

    async def quote(self, contract: ContractSpec) -> Quote:
        """From a held line, else from the shared cache while fresh, else a snapshot."""
        qualified = await self.qualify(contract)
        latest = self._source.latest(qualified.con_id)
        if latest is not None and (latest.bid is not None or latest.last is not None):
            return latest
        stored = await self._cache.get(f"quote:{qualified.con_id}") if self._cache else None
        if stored is not None:
            return decode_quote(stored)
        if self._follower is not None and self._cache is not None:
            return await self._quote_from_owner(qualified, self._follower, self._cache)
        quote = await self._source.snapshot(qualified)
        if self._cache is not None:
            await self._cache.set(
                f"quote:{qualified.con_id}", encode_quote(quote), ttl_seconds=QUOTE_FRESH_SECONDS
            )
        return quote

    async def _quote_from_owner(
        self, contract: ContractSpec, hub: FollowerQuoteHub, cache: Cache
    ) -> Quote:
        """Lease the line from the session's owner and wait for its first published quote."""
        await hub.request_lease(contract)
        for _ in range(int(OWNER_WAIT_SECONDS / 0.05)):
            stored = await cache.get(f"quote:{contract.con_id}")
            if stored is not None:
                return decode_quote(stored)
            await asyncio.sleep(0.05)
        message = "the server holding the IB Gateway session sent no quote in time"
        raise GatewayUnavailableError(message, retry_after=timedelta(seconds=5))

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
        self, contracts: list[ContractSpec], heartbeat: timedelta, *, batch: int = 1
    ) -> AsyncGenerator[QuoteStreamItem]:
        """The contracts' quotes as they change, conflated per contract for a slow reader, with
        gateway markers and heartbeats. With `batch` above 1, the quotes waiting at each write
        come together as one QuoteBatch (at most `batch` of them)."""
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
            markers = self._monitor.markers()
            if batch > 1:
                batches = follow_buffer_in_batches(
                    buffer, markers, heartbeat, self._clock, batch=batch
                )
                async with aclosing(batches) as chunks:
                    async for chunk in chunks:
                        for item in self._batched(chunk):
                            yield item
            else:
                live = follow_buffer(buffer, markers, heartbeat, self._clock)
                async with aclosing(live) as items:
                    async for one in items:
                        if isinstance(one, Quote):
                            self._sent(one)
                        yield one
        finally:
            self._hub.unwatch(qualified, buffer)

    def _batched(self, chunk: list[QuoteItem | Marker] | Heartbeat) -> list[QuoteStreamItem]:
        """A chunk's quotes as one QuoteBatch, followed by its markers and failures."""
        if isinstance(chunk, Heartbeat):
            return [chunk]
        quotes = tuple(item for item in chunk if isinstance(item, Quote))
        for quote in quotes:
            self._sent(quote)
        others: list[QuoteStreamItem] = [item for item in chunk if not isinstance(item, Quote)]
        return [QuoteBatch(quotes), *others] if quotes else others

    def _sent(self, quote: Quote) -> None:
        self._telemetry.quote_sent((self._clock() - quote.receive_time).total_seconds())


def _log_publisher_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("the quote publisher failed", exc_info=task.exception())
