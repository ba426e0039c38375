"""The live part of a data stream: buffered updates, gateway markers as they happen, and a
heartbeat whenever the stream has been idle for the reader's interval.

Markers go into the stream's own buffer (under keys of their own, so never conflated away)
from one pump task per stream; the stream itself then only ever waits on its buffer, with no
task or wait set created per message."""

from __future__ import annotations

import asyncio
import itertools
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
    shared: ConflatingBuffer[Any] = buffer
    pump = asyncio.create_task(_pump_markers(markers, shared), name="stream-markers")
    seconds = heartbeat.total_seconds()
    try:
        while True:
            if await buffer.wait(seconds):
                yield buffer.pop_oldest()
            else:
                yield Heartbeat(clock())
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await markers.aclose()


async def follow_buffer_in_batches(
    buffer: ConflatingBuffer[T],
    markers: AsyncGenerator[Marker],
    heartbeat: timedelta,
    clock: Callable[[], datetime],
    *,
    batch: int,
) -> AsyncGenerator[list[T | Marker] | Heartbeat]:
    """As follow_buffer, but each write takes every value waiting, up to `batch`."""
    shared: ConflatingBuffer[Any] = buffer
    pump = asyncio.create_task(_pump_markers(markers, shared), name="stream-markers")
    seconds = heartbeat.total_seconds()
    try:
        while True:
            if await buffer.wait(seconds):
                yield shared.pop_oldest_values(batch)
            else:
                yield Heartbeat(clock())
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await markers.aclose()


async def _pump_markers(markers: AsyncGenerator[Marker], buffer: ConflatingBuffer[Any]) -> None:
    for number in itertools.count():
        buffer.put(("marker", number), await anext(markers))
