"""The Python client's convenience layer against a real grpc.aio server on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import grpc.aio
import pytest
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from ibkr.v1 import (
    errors_pb2,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
    order_service_pb2,
)
from ibkr_client import ApiError, FieldViolation, IbkrClient


class RecordingGatewayService(gateway_service_pb2_grpc.GatewayServiceServicer):
    """Answers with a fixed status and remembers what each call carried."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.time_remaining: list[float | None] = []

    def _record(self, context: grpc.aio.ServicerContext[object, object]) -> None:
        self.metadata.append(
            {
                key: value
                for key, value in context.invocation_metadata() or ()
                if isinstance(value, str)
            }
        )
        self.time_remaining.append(context.time_remaining())

    async def GetGatewayStatus(
        self,
        request: gateway_service_pb2.GetGatewayStatusRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> gateway_service_pb2.GetGatewayStatusResponse:
        self._record(context)
        status = gateway_service_pb2.GatewayStatus(
            state=gateway_service_pb2.CONNECTION_STATE_READY, host="127.0.0.1", port=4002
        )
        return gateway_service_pb2.GetGatewayStatusResponse(status=status)

    async def StreamGatewayStatus(
        self,
        request: gateway_service_pb2.StreamGatewayStatusRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> AsyncIterator[gateway_service_pb2.StreamGatewayStatusResponse]:
        self._record(context)
        if request.heartbeat_interval.seconds == 99:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "rejected on purpose")
        status = gateway_service_pb2.GatewayStatus(state=gateway_service_pb2.CONNECTION_STATE_READY)
        yield gateway_service_pb2.StreamGatewayStatusResponse(status=status)


class FailingGatewayService(RecordingGatewayService):
    """Fails every call the way the ibkr.v1 error catalogue says a server must."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    async def GetGatewayStatus(
        self,
        request: gateway_service_pb2.GetGatewayStatusRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> gateway_service_pb2.GetGatewayStatusResponse:
        info = error_details_pb2.ErrorInfo(
            domain="ibkr.v1", reason=self.reason, metadata={"ib_error_code": "201"}
        )
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="limit_price", description="must be a plain decimal string"
                )
            ]
        )
        retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2))
        status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="bad order")
        for detail in (info, bad_request, retry):
            status.details.add().Pack(detail)
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad order",
            trailing_metadata=(
                ("grpc-status-details-bin", status.SerializeToString()),
                ("x-request-id", "request-7"),
            ),
        )


async def serve(
    servicer: gateway_service_pb2_grpc.GatewayServiceServicer,
) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    gateway_service_pb2_grpc.add_GatewayServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
async def recording() -> AsyncIterator[tuple[RecordingGatewayService, int]]:
    servicer = RecordingGatewayService()
    server, port = await serve(servicer)
    yield servicer, port
    await server.stop(grace=None)


async def test_token_and_a_request_id_go_with_every_call(
    recording: tuple[RecordingGatewayService, int],
) -> None:
    servicer, port = recording
    async with IbkrClient.connect(f"127.0.0.1:{port}", token="secret-token") as client:
        response = await client.gateway.GetGatewayStatus(
            gateway_service_pb2.GetGatewayStatusRequest()
        )
        await client.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
    assert response.status.state == gateway_service_pb2.CONNECTION_STATE_READY
    first, second = servicer.metadata
    assert first["authorization"] == "Bearer secret-token"
    assert len(first["x-request-id"]) == 32
    assert first["x-request-id"] != second["x-request-id"]
    assert first["user-agent"].startswith("ibkr-grpc-client/0.1.0")


async def test_a_callers_request_id_is_kept(recording: tuple[RecordingGatewayService, int]) -> None:
    servicer, port = recording
    async with IbkrClient.connect(f"127.0.0.1:{port}") as client:
        await client.gateway.GetGatewayStatus(
            gateway_service_pb2.GetGatewayStatusRequest(), metadata=(("x-request-id", "mine-1"),)
        )
    assert servicer.metadata[0]["x-request-id"] == "mine-1"
    assert "authorization" not in servicer.metadata[0]


async def test_unary_calls_get_the_default_deadline_and_streams_none(
    recording: tuple[RecordingGatewayService, int],
) -> None:
    servicer, port = recording
    async with IbkrClient.connect(f"127.0.0.1:{port}", default_timeout=5.0) as client:
        await client.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
        await client.gateway.GetGatewayStatus(
            gateway_service_pb2.GetGatewayStatusRequest(), timeout=60.0
        )
        stream = client.gateway.StreamGatewayStatus(
            gateway_service_pb2.StreamGatewayStatusRequest()
        )
        updates = [update async for update in stream]
    default, explicit, streaming = servicer.time_remaining
    assert default is not None
    assert 0 < default <= 5.5  # the wire rounds deadlines up a little
    assert explicit is not None
    assert 5.5 < explicit <= 60.5
    assert streaming is None
    assert [update.WhichOneof("payload") for update in updates] == ["status"]
    assert servicer.metadata[2]["x-request-id"]


async def test_a_failed_stream_raises_with_its_status(
    recording: tuple[RecordingGatewayService, int],
) -> None:
    _, port = recording
    request = gateway_service_pb2.StreamGatewayStatusRequest(
        heartbeat_interval=duration_pb2.Duration(seconds=99)
    )
    async with IbkrClient.connect(f"127.0.0.1:{port}") as client:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            _ = [update async for update in client.gateway.StreamGatewayStatus(request)]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_api_error_reads_the_catalogue_details() -> None:
    server, port = await serve(FailingGatewayService("ORDER_VALIDATION_FAILED"))
    try:
        async with IbkrClient.connect(f"127.0.0.1:{port}") as client:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await client.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
    finally:
        await server.stop(grace=None)
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "ORDER_VALIDATION_FAILED"
    assert error.error_reason == errors_pb2.ERROR_REASON_ORDER_VALIDATION_FAILED
    assert error.metadata == {"ib_error_code": "201"}
    assert error.field_violations == (
        FieldViolation("limit_price", "must be a plain decimal string"),
    )
    assert error.retry_delay == timedelta(seconds=2)
    assert error.request_id == "request-7"
    assert str(error) == "INVALID_ARGUMENT ORDER_VALIDATION_FAILED: bad order"


async def test_a_reason_this_client_does_not_know_is_tolerated() -> None:
    server, port = await serve(FailingGatewayService("SOMETHING_ADDED_IN_A_LATER_RELEASE"))
    try:
        async with IbkrClient.connect(f"127.0.0.1:{port}") as client:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await client.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
    finally:
        await server.stop(grace=None)
    error = ApiError.from_rpc_error(raised.value)
    assert error.reason == "SOMETHING_ADDED_IN_A_LATER_RELEASE"
    assert error.error_reason == errors_pb2.ERROR_REASON_UNSPECIFIED


def test_unknown_enum_values_survive_parsing() -> None:
    # A newer server may send a status this client was generated without: proto3 keeps the
    # number rather than failing, and it round-trips unchanged.
    order = order_service_pb2.Order(order_id="o-1")
    wire = order.SerializeToString() + bytes([0x80, 0x01, 0xE7, 0x07])  # field 16 = 999
    parsed = order_service_pb2.Order.FromString(wire)
    assert parsed.order_id == "o-1"
    assert int(parsed.status) == 999
    assert order_service_pb2.Order.FromString(parsed.SerializeToString()).status == 999
