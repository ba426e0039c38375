"""One limiter for every request the service sends to IB: IB allows 50 messages a second per
client and closes connections that keep above it; staying at 45 leaves room for ib_async's own
housekeeping messages. A token bucket, so short bursts pass at once and a flood is paced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RequestLimiter:
    def __init__(
        self,
        *,
        per_second: float = 45.0,
        burst: int = 45,
        on_request: Callable[[str], None] = lambda _kind: None,
        on_throttled: Callable[[], None] = lambda: None,
    ) -> None:
        self._rate = per_second
        self._capacity = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()
        self._on_request = on_request
        self._on_throttled = on_throttled

    async def acquire(self, kind: str) -> None:
        """Wait for a slot to send one request of `kind`; requests go in arrival order."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                self._on_throttled()
                await asyncio.sleep((1 - self._tokens) / self._rate)
                self._refill()
            self._tokens -= 1
        self._on_request(kind)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
