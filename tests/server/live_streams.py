"""What the depth, tick-by-tick and live-bar stream tests share: a server on SQLite, a stream
collector, and the simulator's subscription counts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import google.rpc.error_details_pb2 as rpc_error_details
import google.rpc.status_pb2 as rpc_status
import grpc.aio
import pytest

from ibkr.v1 import common_pb2
from ibkr_client import ApiError
from ibkr_simulator import Simulator, SimulatorStatus
from tests.server.conftest import RunningServer, running_server
from tests.support.databases import migrated_database

Response = TypeVar("Response")


def stock(symbol: str) -> common_pb2.Contract:
    return common_pb2.Contract(symbol=symbol, security_type=common_pb2.SECURITY_TYPE_STOCK)


@pytest.fixture
async def sqlite_server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        yield server


class Collector(Generic[Response]):
    """Reads a server stream into `responses` in the background until closed."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.responses: list[Response] = []
        self.error: grpc.aio.AioRpcError | None = None
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        try:
            async for response in self._call:
                self.responses.append(response)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.error = error

    def payloads(self, kind: str) -> list[Any]:
        return [
            getattr(response, kind)
            for response in self.responses
            if response.WhichOneof("payload") == kind  # type: ignore[attr-defined]
        ]

    def kinds(self) -> list[str]:
        return [response.WhichOneof("payload") for response in self.responses]  # type: ignore[attr-defined]

    async def close(self) -> None:
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def collecting(call: Any) -> AsyncIterator[Collector[Any]]:
    collector: Collector[Any] = Collector(call)
    try:
        yield collector
    finally:
        await collector.close()


async def refusal(call: Any) -> tuple[ApiError, list[str]]:
    """The error a stream ends with before sending anything, and its QuotaFailure subjects."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _first_message(call)
    return ApiError.from_rpc_error(raised.value), quota_subjects(raised.value)


async def _first_message(call: Any) -> object:
    async for response in call:
        return response
    return None


def quota_subjects(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.Status()
    trailing: Any = error.trailing_metadata() or ()
    for key, value in trailing:
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status.ParseFromString(value)
    subjects: list[str] = []
    for detail in status.details:
        quota = rpc_error_details.QuotaFailure()
        if detail.Unpack(quota):
            subjects.extend(violation.subject for violation in quota.violations)
    return subjects


def held(simulator: Simulator) -> SimulatorStatus:
    return simulator.status()
