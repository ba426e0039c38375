"""StreamOrderEvents: replay the stored log after a sequence, then follow it live.

Readers follow the database, not an in-memory copy: a wake-up tells them a new sequence is
committed and they read everything after the last one they sent. So there is no gap and no
duplicate at the seam between replay and live, and a slow reader costs no memory (it reads in
pages when it gets to it). Wake-ups travel on the message bus, so a server process that does
not write the log (another replica on the same Redis and database) wakes its readers too; a
lost wake-up costs at most the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta
from typing import Any

from ibkr_grpc.domain.orders import OrderEvent
from ibkr_grpc.domain.streams import Heartbeat, Marker, MarkerType
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.ports import MessageBus, OrderRepository

CHANNEL = "order-events"
PAGE = 500
# How often a reader looks at the database even without a wake-up (other processes' writes).
POLL_SECONDS = 1.0

OrderStreamItem = OrderEvent | Heartbeat | Marker


class OrderEventFeed:
    def __init__(
        self,
        repository: OrderRepository,
        monitor: GatewayMonitor,
        bus: MessageBus,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._monitor = monitor
        self._bus = bus
        self._clock = clock
        self._newest = 0
        self._committed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def publish(self, sequence: int) -> None:
        """The order store's commit listener: tell every process's readers."""
        await self._bus.publish(CHANNEL, str(sequence).encode())

    def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="order-event-wakeups")

    async def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _listen(self) -> None:
        async with self._bus.subscribe(CHANNEL) as messages:
            async for payload in messages:
                self._on_commit(int(payload))

    def _on_commit(self, sequence: int) -> None:
        self._newest = max(self._newest, sequence)
        committed, self._committed = self._committed, asyncio.Event()
        committed.set()

    async def follow(
        self, *, after_sequence: int, account: str, heartbeat: timedelta
    ) -> AsyncGenerator[OrderStreamItem]:
        last = after_sequence
        if after_sequence > 0:
            async for event in self._stored_after(last, account):
                yield event
                last = event.sequence
        else:
            last = await self._repository.last_sequence()
        yield Marker(MarkerType.REPLAY_COMPLETE, self._clock())
        markers = self._monitor.markers()
        next_marker: asyncio.Future[Marker] | None = None
        idle_since = asyncio.get_running_loop().time()
        try:
            while True:
                next_marker = next_marker or asyncio.ensure_future(anext(markers))
                if await self._wait(next_marker, min(POLL_SECONDS, heartbeat.total_seconds())):
                    yield next_marker.result()
                    next_marker = None
                sent = False
                async for event in self._stored_after(last, account):
                    yield event
                    last = event.sequence
                    sent = True
                now = asyncio.get_running_loop().time()
                if sent:
                    idle_since = now
                elif now - idle_since >= heartbeat.total_seconds():
                    yield Heartbeat(self._clock())
                    idle_since = now
        finally:
            if next_marker is not None:
                next_marker.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await next_marker
            await markers.aclose()

    async def _stored_after(self, sequence: int, account: str) -> AsyncGenerator[OrderEvent]:
        while page := await self._repository.events_after(sequence, account=account, limit=PAGE):
            for event in page:
                yield event
            sequence = page[-1].sequence

    async def _wait(self, marker: asyncio.Future[Marker], seconds: float) -> bool:
        """Wait for a commit, a gateway marker or the poll interval; True if the marker came."""
        committed = asyncio.ensure_future(self._committed.wait())
        waiting: set[asyncio.Future[Any]] = {committed, marker}
        try:
            await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            committed.cancel()
        return marker.done() and not marker.cancelled()
