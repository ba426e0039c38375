"""Work a component owns: started for a caller who may stop waiting (a deadline, a cancelled
call), run to its end anyway, waited for at shutdown, and its unexpected failures logged."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import structlog

from ibkr_grpc.domain.errors import ServiceError

_log = structlog.get_logger("ibkr_grpc.tasks")
T = TypeVar("T")


class OwnedTasks:
    def __init__(self, what: str) -> None:
        self._what = what
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` in a task owned here; the caller awaits it through a shield, so cancelling
        the caller leaves the work running."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return await asyncio.shield(task)

    async def wait(self) -> None:
        """Wait for the work in progress (at shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, ServiceError):
            _log.error(f"{self._what} failed", exc_info=error)
