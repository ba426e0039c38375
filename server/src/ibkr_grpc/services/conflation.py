"""A per-reader buffer that keeps only the latest value per key: a slow reader gets the newest
state of everything that changed, never a growing backlog, and never slows the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ConflatingBuffer(Generic[T]):
    def __init__(
        self, *, maximum_keys: int = 10_000, on_conflated: Callable[[int], None] | None = None
    ) -> None:
        self._on_conflated = on_conflated
        self._latest: dict[Hashable, T] = {}
        self._maximum_keys = maximum_keys
        self._ready = asyncio.Event()
        self.conflated = 0

    def put(self, key: Hashable, value: T) -> None:
        """Never blocks. A value replaced before it was read counts as conflated."""
        if key in self._latest:
            self.conflated += 1
            if self._on_conflated is not None:
                self._on_conflated(1)
            # Move the key to the end: values come out in the order they last changed.
            del self._latest[key]
        elif len(self._latest) >= self._maximum_keys:
            oldest = next(iter(self._latest))
            del self._latest[oldest]
            self.conflated += 1
            if self._on_conflated is not None:
                self._on_conflated(1)
        self._latest[key] = value
        self._ready.set()

    async def take(self, timeout: float | None = None) -> list[T]:  # noqa: ASYNC109  the caller's heartbeat
        """Everything that changed since the last take, waiting up to `timeout` for something."""
        if not self._latest:
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        values = list(self._latest.values())
        self._latest.clear()
        self._ready.clear()
        return values
