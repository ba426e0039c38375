"""IB subscriptions shared by every stream that watches the same thing (a contract's book, a
contract's tick-by-tick data of one type, a contract's live bars).

Each subscription is opened once (the streams that join while it opens wait for the same
answer), reference counted, and released a short linger after its last watcher leaves, so that
a client reopening its stream does not churn IB requests. An optional limit refuses a new
subscription before IB is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
W = TypeVar("W")


@dataclass
class _Entry(Generic[W]):
    opening: asyncio.Task[None]
    watchers: set[W] = field(default_factory=set)
    release: asyncio.Task[None] | None = None


class SharedSubscriptions(Generic[K, W]):
    def __init__(
        self,
        opener: Callable[[K], Coroutine[object, object, None]],
        closer: Callable[[K], Coroutine[object, object, None]],
        *,
        linger_seconds: float,
        limit: int | None = None,
        refuse: Callable[[int], Exception] | None = None,
    ) -> None:
        """`opener` subscribes at IB (raising ServiceError when IB refuses); `closer` cancels.
        With `limit`, a key past it is refused with `refuse(limit)` before IB is asked."""
        self._opener = opener
        self._closer = closer
        self._linger = linger_seconds
        self._limit = limit
        self._refuse = refuse
        self._entries: dict[K, _Entry[W]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        """Whether `key` is held or being opened."""
        return key in self._entries

    def held(self) -> list[K]:
        """The subscriptions held (opened, not failed)."""
        return [key for key, entry in self._entries.items() if _opened(entry)]

    def watchers(self, key: K) -> tuple[W, ...]:
        entry = self._entries.get(key)
        return tuple(entry.watchers) if entry is not None else ()

    async def join(self, key: K, watcher: W) -> None:
        """Watch `key`, subscribing at IB if no one does yet; returns once IB accepted it (or
        raises what it refused with, having left)."""
        entry = self._entries.get(key)
        if entry is None:
            if self._limit is not None and len(self._entries) >= self._limit:
                assert self._refuse is not None  # noqa: S101  given with the limit
                raise self._refuse(self._limit)
            entry = _Entry(asyncio.create_task(self._opener(key), name="subscription-open"))
            self._entries[key] = entry
            entry.opening.add_done_callback(lambda task: self._opened(key, task))
        if entry.release is not None:
            entry.release.cancel()
            entry.release = None
        entry.watchers.add(watcher)
        try:
            await asyncio.shield(entry.opening)
        except BaseException:
            self.leave(key, watcher)
            raise

    def _opened(self, key: K, task: asyncio.Task[None]) -> None:
        """A subscription IB refused (or whose opening was cancelled) is gone at once, so that
        no later watcher joins a dead one."""
        if task.cancelled() or task.exception() is not None:
            entry = self._entries.get(key)
            if entry is not None and entry.opening is task:
                del self._entries[key]
                if entry.release is not None:
                    entry.release.cancel()

    def leave(self, key: K, watcher: W) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.watchers.discard(watcher)
        if not entry.watchers and entry.release is None:
            # Owned by the entry: cancelled when a watcher comes back, or when the hub closes.
            entry.release = asyncio.create_task(self._release_after(key, entry))

    async def _release_after(self, key: K, entry: _Entry[W]) -> None:
        await asyncio.sleep(self._linger)
        if self._entries.get(key) is not entry or entry.watchers:
            return
        del self._entries[key]
        with contextlib.suppress(Exception):
            await entry.opening
        if _opened(entry):
            await self._closer(key)

    def drop(self, key: K) -> tuple[W, ...]:
        """IB ended the subscription: forget it (nothing to cancel) and return its watchers."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return ()
        if entry.release is not None:
            entry.release.cancel()
        return tuple(entry.watchers)

    async def close(self) -> None:
        tasks = [entry.opening for entry in self._entries.values() if not entry.opening.done()]
        tasks += [entry.release for entry in self._entries.values() if entry.release is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._entries.clear()


def _opened(entry: _Entry[W]) -> bool:
    task = entry.opening
    return task.done() and not task.cancelled() and task.exception() is None
