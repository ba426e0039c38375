"""StreamOrderEvents: replay the stored log after a sequence, then follow it live.

Readers follow the database, not an in-memory copy: a wake-up tells them a new sequence is
committed and they read everything after the last one they sent. So there is no gap and no
duplicate at the seam between replay and live, and a slow reader costs no memory (it reads in
pages when it gets to it). A commit wakes this process's readers at once, in process; it also
travels on the message bus, so a server process that does not write the log (another replica on
the same Redis and database) wakes its readers too. The bus may be slow or down (Redis restarting
or hung): the commit listener never waits for it, and a lost wake-up costs at most the poll
interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from ibkr_grpc.domain.errors import EventsArchivedError
from ibkr_grpc.domain.orders import OrderEvent
from ibkr_grpc.domain.streams import Heartbeat, Marker, MarkerType
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.ports import MessageBus, OrderRepository

_log = structlog.get_logger("ibkr_grpc.order_event_feed")
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
        # The newest committed sequence not yet published on the bus: one slot, since the
        # sequences only grow and a reader woken by the newest reads everything before it.
        self._unpublished = 0
        self._publishable = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def publish(self, sequence: int) -> None:
        """The order store's commit listener, called in commit order inside the store's write
        lock, so it waits for nothing: it wakes this process's readers and leaves the bus to
        the publisher task."""
        self._on_commit(sequence)
        if sequence > self._unpublished:
            self._unpublished = sequence
            self._publishable.set()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._listen(), name="order-event-wakeups"),
                asyncio.create_task(self._publish_commits(), name="order-event-publisher"),
            ]
            for task in self._tasks:
                task.add_done_callback(_log_failure)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> None:
        async with self._bus.subscribe(CHANNEL) as messages:
            async for payload in messages:
                try:
                    sequence = int(payload)
                except ValueError:
                    _log.warning("malformed order-event wake-up ignored", payload=payload[:40])
                    continue
                self._on_commit(sequence)

    async def _publish_commits(self) -> None:
        published = 0
        while True:
            await self._publishable.wait()
            self._publishable.clear()
            if self._unpublished > published:
                published = self._unpublished
                await self._bus.publish(CHANNEL, str(published).encode())

    def _on_commit(self, sequence: int) -> None:
        self._newest = max(self._newest, sequence)
        committed, self._committed = self._committed, asyncio.Event()
        committed.set()

    async def follow(
        self,
        *,
        after_sequence: int,
        account: str,
        heartbeat: timedelta,
        replay_from_start: bool = False,
        replay_last: int = 0,
    ) -> AsyncGenerator[OrderStreamItem]:
        """Stored events after `after_sequence` (or from the first, or the newest
        `replay_last`), a REPLAY_COMPLETE marker, then live events, with no gap at the seam."""
        last = after_sequence
        if replay_last > 0:
            last = await self._repository.sequence_before_newest(replay_last, account=account)
        replaying = after_sequence > 0 or replay_from_start or replay_last > 0
        # A resume from a sequence of the caller's must not skip archived events; a replay
        # from the start or of the newest events replays what the log retains.
        resuming = after_sequence > 0 and not replay_from_start and replay_last == 0
        if replaying:
            async for event in self._stored_after(last, account, refuse_archived=resuming):
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

    async def _stored_after(
        self, sequence: int, account: str, *, refuse_archived: bool = False
    ) -> AsyncGenerator[OrderEvent]:
        """The stored events after `sequence`, page by page. With `refuse_archived`, a resume
        that would skip archived events is refused instead; checked after each page is read,
        so an archival that commits during the replay is caught too (the live events that
        follow are newer than anything archival may take)."""
        while True:
            page = await self._repository.events_after(sequence, account=account, limit=PAGE)
            if refuse_archived:
                await self._refuse_if_archived_after(sequence, account)
            if not page:
                return
            for event in page:
                yield event
            sequence = page[-1].sequence

    async def _refuse_if_archived_after(self, sequence: int, account: str) -> None:
        archived = await self._repository.archived_through(account=account)
        if archived > sequence:
            retained = await self._repository.events_after(archived, account=account, limit=1)
            raise EventsArchivedError(
                after_sequence=sequence,
                archived_through=archived,
                oldest_retained=retained[0].sequence if retained else 0,
            )

    async def _wait(self, marker: asyncio.Future[Marker], seconds: float) -> bool:
        """Wait for a commit, a gateway marker or the poll interval; True if the marker came."""
        committed = asyncio.ensure_future(self._committed.wait())
        waiting: set[asyncio.Future[Any]] = {committed, marker}
        try:
            await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            committed.cancel()
        return marker.done() and not marker.cancelled()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("order-event feed task failed", task=task.get_name(), exc_info=task.exception())
