"""The live part of a data stream: buffered updates, gateway markers as they happen, and a
heartbeat whenever the stream has been idle for the reader's interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.conflation import ConflatingBuffer

T = TypeVar("T")


async def follow_buffer(
    buffer: ConflatingBuffer[T],
    markers: AsyncGenerator[Marker],
    heartbeat: timedelta,
    clock: Callable[[], datetime],
) -> AsyncGenerator[T | Marker | Heartbeat]:
    next_marker: asyncio.Future[Marker] = asyncio.ensure_future(anext(markers))
    try:
        while True:
            updates = asyncio.ensure_future(buffer.take(heartbeat.total_seconds()))
            waiting: set[asyncio.Future[Any]] = {updates, next_marker}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if next_marker in done:
                yield next_marker.result()
                next_marker = asyncio.ensure_future(anext(markers))
            values = await updates
            for value in values:
                yield value
            if not values and next_marker not in done:
                yield Heartbeat(clock())
    finally:
        next_marker.cancel()
        await asyncio.gather(next_marker, return_exceptions=True)
        await markers.aclose()
