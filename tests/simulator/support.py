"""Helpers for driving the simulator with the real ib_async client: waiting and connecting."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from ib_async import IB

from ibkr_simulator import Simulator

# ib_async log texts that mean the simulator sent something the client could not use.
PROTOCOL_COMPLAINTS = (
    "Error handling fields",
    "Error for ",
    "Unknown reqId",
    "No order found",
    "unhandled value",
    "malformed value",
)


async def eventually(
    condition: Callable[[], object], *, within: float = 5.0, message: str = ""
) -> None:
    """Wait until `condition()` is truthy, yielding to the event loop between checks."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {within} s")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def connected(
    simulator: Simulator, client_id: int = 1, *, connect_seconds: float = 3.0
) -> AsyncIterator[IB]:
    """An ib_async client connected as a user script would, disconnected on exit."""
    ib = IB()
    ib.RequestTimeout = 5
    await ib.connectAsync(
        simulator.host,
        simulator.port,
        clientId=client_id,
        timeout=connect_seconds,
        raiseSyncErrors=True,
    )
    try:
        yield ib
    finally:
        ib.disconnect()


class LogCapture(logging.Handler):
    """Collects every record from the ib_async loggers during one test."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def complaints(self) -> list[str]:
        messages = [record.getMessage() for record in self.records]
        return [
            message
            for message in messages
            if any(complaint in message for complaint in PROTOCOL_COMPLAINTS)
        ]


async def next_valid_id(simulator: Simulator, client_id: int) -> int:
    """Handshake by hand and return the nextValidId the gateway greets this client id with."""
    reader, writer = await asyncio.open_connection(simulator.host, simulator.port)

    def frame(body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + body

    try:
        writer.write(b"API\0" + frame(b"v157..178"))
        writer.write(frame(f"71\x002\x00{client_id}\x00\x00".encode()))
        await writer.drain()
        while True:
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            fields = (await reader.readexactly(length)).decode().split("\0")
            if fields[0] == "9":
                return int(fields[2])
    finally:
        writer.close()
        await writer.wait_closed()
