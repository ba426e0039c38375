"""The message bus and cache inside one process, for the embedded mode (no REDIS_URL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

SUBSCRIBER_QUEUE = 1000


class InProcessBus:
    """Each subscriber has a bounded queue; when a subscriber falls that far behind, its oldest
    message is dropped (and counted), so one slow reader never holds up the publisher."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[bytes]]] = {}
        self.dropped = 0

    async def publish(self, channel: str, payload: bytes) -> None:
        for queue in tuple(self._subscribers.get(channel, ())):
            if queue.full():
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(payload)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._subscribers.setdefault(channel, set()).add(queue)

        async def messages() -> AsyncIterator[bytes]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[channel]

    async def close(self) -> None:
        self._subscribers.clear()


class InProcessCache:
    def __init__(self, *, maximum_entries: int = 100_000) -> None:
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._maximum = maximum_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return value

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        if len(self._entries) >= self._maximum and key not in self._entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (time.monotonic() + ttl_seconds, value)

    async def close(self) -> None:
        self._entries.clear()
