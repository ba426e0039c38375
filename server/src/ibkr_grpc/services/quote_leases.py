"""Quotes for server processes that do not hold the IB Gateway session (followers).

A follower asks the owner, on the bus, to hold the lines it needs ("quote-leases": a
contract and a lease time), renewing its leases while it has watchers; the owner holds a
leased line like a stream would, and publishes its quotes on "quotes.CON_ID" and in the
cache (MarketDataService.share). The follower reads the channels, one subscription per
contract however many of its streams watch it, into each stream's conflating buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import GatewayUnavailableError, ServiceError
from ibkr_grpc.services.cache_codec import (
    contract_document,
    contract_key,
    contract_of,
    decode_contract,
    decode_quote,
)
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.ports import Cache, MessageBus
from ibkr_grpc.services.quote_hub import QuoteHub, QuoteItem

_log = structlog.get_logger("ibkr_grpc.quote_leases")
LEASE_CHANNEL = "quote-leases"
LEASE_SECONDS = 30.0
RENEW_SECONDS = 10.0


def lease_message(contract: ContractSpec, seconds: float) -> bytes:
    return json.dumps({"contract": contract_document(contract), "seconds": seconds}).encode()


class LeaseServer:
    """Owner side: holds a line for every contract a follower has leased and not let lapse."""

    def __init__(
        self,
        bus: MessageBus,
        hub: QuoteHub,
        qualify: Callable[[ContractSpec], Awaitable[ContractSpec]],
    ) -> None:
        self._bus = bus
        self._hub = hub
        self._qualify = qualify
        self._expiry: dict[int, float] = {}
        self._holders: dict[int, tuple[ContractSpec, ConflatingBuffer[QuoteItem]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="quote-lease-listener"),
                asyncio.create_task(self._expire(), name="quote-lease-expiry"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for contract, holder in self._holders.values():
            self._hub.unwatch([contract], holder)
        self._holders.clear()

    async def _listen(self) -> None:
        async with self._bus.subscribe(LEASE_CHANNEL) as messages:
            async for payload in messages:
                try:
                    await self._lease(payload)
                except (ServiceError, ValueError, KeyError) as error:
                    _log.warning("quote lease refused", error=str(error))

    async def _lease(self, payload: bytes) -> None:
        document = json.loads(payload)
        qualified = await self._qualify(contract_of(document["contract"]))
        self._expiry[qualified.con_id] = time.monotonic() + float(document["seconds"])
        if qualified.con_id not in self._holders:
            # The holder's buffer is never read: it only keeps the line watched.
            holder: ConflatingBuffer[QuoteItem] = ConflatingBuffer(maximum_keys=2)
            self._holders[qualified.con_id] = (qualified, holder)
            await self._hub.watch([qualified], holder)

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for con_id in [c for c, until in self._expiry.items() if until < now]:
                del self._expiry[con_id]
                contract, holder = self._holders.pop(con_id)
                self._hub.unwatch([contract], holder)


@dataclass
class _Channel:
    contract: ContractSpec
    watchers: set[ConflatingBuffer[QuoteItem]] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None


class FollowerQuoteHub:
    """Follower side: the QuoteHub's interface, fed from the owner's quote channels."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._channels: dict[int, _Channel] = {}
        self._renewer: asyncio.Task[None] | None = None

    @property
    def lines_in_use(self) -> int:
        return len(self._channels)

    @property
    def line_limit(self) -> int:
        return 0

    async def request_lease(self, contract: ContractSpec) -> None:
        await self._bus.publish(LEASE_CHANNEL, lease_message(contract, LEASE_SECONDS))

    async def watch(
        self, contracts: list[ContractSpec], buffer: ConflatingBuffer[QuoteItem]
    ) -> None:
        for contract in contracts:
            channel = self._channels.get(contract.con_id)
            if channel is None:
                channel = self._channels[contract.con_id] = _Channel(contract)
                started = asyncio.Event()
                channel.reader = asyncio.create_task(self._read(channel, started))
                await started.wait()
                await self.request_lease(contract)
            channel.watchers.add(buffer)
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew(), name="quote-lease-renewer")

    def unwatch(self, contracts: list[ContractSpec], buffer: ConflatingBuffer[QuoteItem]) -> None:
        for contract in contracts:
            channel = self._channels.get(contract.con_id)
            if channel is None:
                continue
            channel.watchers.discard(buffer)
            if not channel.watchers:
                del self._channels[contract.con_id]
                if channel.reader is not None:
                    channel.reader.cancel()

    async def _read(self, channel: _Channel, started: asyncio.Event) -> None:
        async with self._bus.subscribe(f"quotes.{channel.contract.con_id}") as messages:
            started.set()
            async for payload in messages:
                quote = decode_quote(payload)
                for buffer in tuple(channel.watchers):
                    buffer.put(quote.contract.con_id, quote)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for channel in list(self._channels.values()):
                await self.request_lease(channel.contract)

    async def reopen(self) -> None:
        """Nothing to reopen: the owner holds the lines."""

    async def close(self) -> None:
        tasks = [c.reader for c in self._channels.values() if c.reader is not None]
        if self._renewer is not None:
            tasks.append(self._renewer)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        self._channels.clear()


class LeaseQualifier:
    """Follower side: contracts are qualified by the owner (asked through a lease), whose
    answer arrives in the shared cache."""

    def __init__(self, hub: FollowerQuoteHub, cache: Cache, *, wait_seconds: float = 5.0) -> None:
        self._hub = hub
        self._cache = cache
        self._wait = wait_seconds

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        await self._hub.request_lease(contract)
        key = f"qualified:{contract_key(contract)}"
        deadline = time.monotonic() + self._wait
        while time.monotonic() < deadline:
            stored = await self._cache.get(key)
            if stored is not None:
                return decode_contract(stored)
            await asyncio.sleep(0.05)
        message = (
            f"the server holding the IB Gateway session did not qualify {contract.display_name}"
        )
        raise GatewayUnavailableError(message, retry_after=timedelta(seconds=5))
