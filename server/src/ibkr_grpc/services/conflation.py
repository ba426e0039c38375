"""A per-reader buffer that keeps only the latest value per key: a slow reader gets the newest
state of everything that changed, never a growing backlog, and never slows the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


# Conflations are reported in batches (and whenever the reader takes a value): a fan-out of
# one quote to a thousand slow streams conflates a thousand times.
REPORT_EVERY = 64


class ConflatingBuffer(Generic[T]):
    def __init__(
        self, *, maximum_keys: int = 10_000, on_conflated: Callable[[int], None] | None = None
    ) -> None:
        self._on_conflated = on_conflated
        self._latest: dict[Hashable, T] = {}
        self._maximum_keys = maximum_keys
        self._ready = asyncio.Event()
        self.conflated = 0
        self._unreported = 0

    def put(self, key: Hashable, value: T) -> None:
        """Never blocks. A value replaced before it was read counts as conflated."""
        latest = self._latest
        if key in latest:
            # The newer value takes the older one's place in the queue: a key waits from its
            # first unread change, so a reader slower than the writer still gets every key in
            # turn. (Moving an updated key to the back starved the keys behind it: with three
            # contracts ticking every step and a reader sending one quote per step, only the
            # first contract ever went out.)
            self._count_conflated()
        elif len(latest) >= self._maximum_keys:
            del latest[next(iter(latest))]
            self._count_conflated()
        latest[key] = value
        self._ready.set()

    def _count_conflated(self) -> None:
        self.conflated += 1
        self._unreported += 1
        if self._unreported >= REPORT_EVERY:
            self._report()

    def _report(self) -> None:
        if self._on_conflated is not None:
            self._on_conflated(self._unreported)
        self._unreported = 0

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109  the caller's heartbeat
        """Whether a value is waiting, after waiting up to `timeout` for one."""
        if not self._latest:
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return False
        return True

    def pop_oldest_values(self, count: int) -> list[T]:
        """Up to `count` values, oldest first, for a reader that sends them in one message (so
        none of them goes stale while the others are sent)."""
        values = [self.pop_oldest()]
        while self._latest and len(values) < count:
            values.append(self.pop_oldest())
        return values

    def pop_oldest(self) -> T:
        """The value of the key that has waited longest since its first unread change (always
        the key's latest value). Taking one value at a
        time, as the reader is able to send it, is what makes conflation work for a slow
        reader: a value read in a batch would go stale while the rest of the batch is sent,
        and the newer value behind it would then be sent as well."""
        if self._unreported:
            self._report()
        key = next(iter(self._latest))
        value = self._latest.pop(key)
        if not self._latest:
            self._ready.clear()
        return value
