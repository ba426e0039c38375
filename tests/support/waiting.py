"""Waiting for something to become true, without sleeps that guess how long it takes."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], object] | Callable[[], Awaitable[object]],
    *,
    within: float = 10.0,
    message: str = "",
) -> None:
    """Wait until `condition()` (sync or async) is truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {within} s")
        await asyncio.sleep(0.01)
