"""Concurrent callers asking for the same thing share one request: a burst of streams that
all open on the same contracts (every screen reconnecting after a restart, say) costs IB one
lookup per contract, not one per caller, and so never queues behind its own duplicates in the
shared request limiter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._pending: dict[Hashable, asyncio.Future[T]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def run(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """The result of `fetch()`, or of the identical call already in flight. A caller that
        is cancelled leaves the shared call running for the others; a failure reaches every
        caller waiting on it and is not remembered."""
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(fetch())
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)

    def _settled(self, key: Hashable, done: asyncio.Future[T]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every caller was cancelled
