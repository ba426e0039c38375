"""Scripted stand-ins for grpc.aio server-streaming calls, for the followers' fast tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

import google.rpc.error_details_pb2 as rpc_error_details
import google.rpc.status_pb2 as rpc_status
import grpc
import grpc.aio
from google.protobuf import duration_pb2

from ibkr.v1 import common_pb2, order_service_pb2

MessageT = TypeVar("MessageT")

END: object = grpc.aio.EOF  # type: ignore[attr-defined]
HANG = object()  # read() waits until the call is cancelled


def rpc_error(
    code: grpc.StatusCode,
    message: str = "failed",
    *,
    reason: str = "",
    retry_after: timedelta | None = None,
) -> grpc.aio.AioRpcError:
    """A failed call as grpc.aio raises it, with the catalogue's details in the trailers."""
    status = rpc_status.Status(code=code.value[0], message=message)
    if reason:
        status.details.add().Pack(rpc_error_details.ErrorInfo(domain="ibkr.v1", reason=reason))
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(retry_after)
        status.details.add().Pack(rpc_error_details.RetryInfo(retry_delay=delay))
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, message, None)


class FakeCall(Generic[MessageT]):
    """Reads out `script`: messages, then END, HANG, or an exception to raise."""

    def __init__(self, script: Sequence[object]) -> None:
        self._script = list(script)
        self.cancelled = False
        self._cancel = asyncio.Event()

    async def read(self) -> MessageT | object:
        if not self._script:
            return END
        item = self._script.pop(0)
        if item is HANG:
            self._script.insert(0, HANG)
            await self._cancel.wait()
            raise AssertionError("read a cancelled call")
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> bool:
        self.cancelled = True
        self._cancel.set()
        return True


@dataclass
class FakeStub:
    """One scripted call per opening, for both StreamOrderEvents and StreamQuotes."""

    scripts: list[Sequence[object]]
    requests: list[object] = field(default_factory=list)
    calls: list[FakeCall[object]] = field(default_factory=list)

    def _open(self, request: object) -> FakeCall[object]:
        self.requests.append(request)
        if not self.scripts:
            raise AssertionError("opened more streams than the test scripted")
        call: FakeCall[object] = FakeCall(self.scripts.pop(0))
        self.calls.append(call)
        return call

    def StreamOrderEvents(self, request: object) -> FakeCall[object]:
        return self._open(request)

    def StreamQuotes(self, request: object) -> FakeCall[object]:
        return self._open(request)


@dataclass
class FakeSleep:
    """Records each backoff instead of waiting it."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def event(sequence: int, account: str = "DU1234567") -> order_service_pb2.StreamOrderEventsResponse:
    order = order_service_pb2.Order(order_id=f"order-{sequence}", account=account)
    return order_service_pb2.StreamOrderEventsResponse(
        order_event=order_service_pb2.OrderEvent(
            sequence=sequence, type=order_service_pb2.ORDER_EVENT_TYPE_CREATED, order=order
        )
    )


def replay_complete() -> order_service_pb2.StreamOrderEventsResponse:
    return order_service_pb2.StreamOrderEventsResponse(
        marker=common_pb2.StreamMarker(type=common_pb2.STREAM_MARKER_TYPE_REPLAY_COMPLETE)
    )


def heartbeat() -> order_service_pb2.StreamOrderEventsResponse:
    return order_service_pb2.StreamOrderEventsResponse(heartbeat=common_pb2.Heartbeat())
