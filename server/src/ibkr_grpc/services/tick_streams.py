"""Tick-by-tick streams: one IB subscription per contract and tick type, shared by every
stream.

Trades are events: each stream buffers at most TRADE_BUFFER of them, and a reader that falls
that far behind loses the oldest and is told how many (TicksDropped). Bid/ask and midpoint
ticks are states: a slow reader gets the newest, and a stream that joins a held subscription
starts with it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError
from ibkr_grpc.domain.live_data import SubscriptionEnded, Tick, TicksDropped, TickType
from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.shared_subscriptions import SharedSubscriptions
from ibkr_grpc.services.stream_merge import follow_buffer

_log = structlog.get_logger("ibkr_grpc.tick_streams")
TickKey = tuple[int, TickType]
TickStreamItem = Tick | TicksDropped | Heartbeat | Marker
TickBufferItem = Tick | SubscriptionEnded
TRADE_BUFFER = 10_000


class TickSource(Protocol):
    async def start(self, contract: ContractSpec, tick_type: TickType) -> None: ...
    async def stop(self, contract: ContractSpec, tick_type: TickType) -> None: ...


class TickStreamService:
    def __init__(
        self,
        source: TickSource,
        qualify: Callable[[ContractSpec], Awaitable[ContractSpec]],
        monitor: GatewayMonitor,
        *,
        clock: Callable[[], datetime],
        linger_seconds: float,
    ) -> None:
        self._source = source
        self._qualify = qualify
        self._monitor = monitor
        self._clock = clock
        self._contracts: dict[TickKey, ContractSpec] = {}
        self._latest: dict[TickKey, Tick] = {}
        self._trade_numbers = itertools.count()
        self._subscriptions: SharedSubscriptions[TickKey, ConflatingBuffer[TickBufferItem]] = (
            SharedSubscriptions(self._open, self._close, linger_seconds=linger_seconds)
        )

    @property
    def subscriptions(self) -> int:
        return len(self._subscriptions)

    async def _open(self, key: TickKey) -> None:
        try:
            await self._source.start(self._contracts[key], key[1])
        except BaseException:
            self._contracts.pop(key, None)
            raise

    async def _close(self, key: TickKey) -> None:
        contract = self._contracts.pop(key, None)
        self._latest.pop(key, None)
        if contract is not None:
            await self._source.stop(contract, key[1])

    def tick_received(self, key: TickKey, tick: Tick) -> None:
        """The reader's listener: hand a tick to every stream of its subscription."""
        trade = key[1].is_trade
        if not trade:
            self._latest[key] = tick
        buffer_key: object = next(self._trade_numbers) if trade else "state"
        for buffer in self._subscriptions.watchers(key):
            buffer.put(buffer_key, tick)

    def subscription_failed(self, key: TickKey, error: ServiceError) -> None:
        _log.warning("IB ended a tick-by-tick subscription", con_id=key[0], error=error.message)
        self._contracts.pop(key, None)
        self._latest.pop(key, None)
        for buffer in self._subscriptions.drop(key):
            buffer.put("ended", SubscriptionEnded(error))

    async def reopen(self) -> None:
        """After a reconnect (or IB's 1101): subscribe to each held contract and type again."""
        for key in self._subscriptions.held():
            contract = self._contracts.get(key)
            if contract is None:
                continue
            try:
                await self._source.start(contract, key[1])
            except ServiceError as error:
                self.subscription_failed(key, error)

    async def close(self) -> None:
        await self._subscriptions.close()

    async def stream(
        self, contract: ContractSpec, tick_type: TickType, heartbeat: timedelta
    ) -> AsyncGenerator[TickStreamItem]:
        qualified = await self._qualify(contract)
        key = (qualified.con_id, tick_type)
        self._contracts.setdefault(key, qualified)
        # Room for the trades, plus the keys markers take while the reader is away.
        buffer: ConflatingBuffer[TickBufferItem] = ConflatingBuffer(
            maximum_keys=TRADE_BUFFER if tick_type.is_trade else 8
        )
        try:
            await self._subscriptions.join(key, buffer)
        except BaseException:
            if key not in self._subscriptions:
                self._contracts.pop(key, None)
            raise
        try:
            latest = self._latest.get(key)
            if latest is not None:
                buffer.put("state", latest)
            reported = 0
            live = follow_buffer(buffer, self._monitor.markers(), heartbeat, self._clock)
            async with aclosing(live) as items:
                async for item in items:
                    if isinstance(item, SubscriptionEnded):
                        raise item.error
                    if tick_type.is_trade and buffer.conflated > reported:
                        yield TicksDropped(buffer.conflated - reported)
                        reported = buffer.conflated
                    yield item
        finally:
            self._subscriptions.leave(key, buffer)
