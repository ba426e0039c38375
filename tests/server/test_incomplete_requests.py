"""A request message that never arrives whole cannot hold a call open (issue #14).

gRPC frames each message with a 5-byte prefix: a compressed flag and a 4-byte big-endian length
(https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md, "Length-Prefixed-Message").
A frame that announces more bytes than the client sends is awaited by grpc-core before any
server code runs; the server reads the message itself, with GRPC_REQUEST_RECEIVE_TIMEOUT_SECONDS.
These tests speak HTTP/2 directly (the h2 library), since no gRPC client sends such frames.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
from google.rpc import error_details_pb2, status_pb2

from ibkr.v1 import gateway_service_pb2
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer, mint, running_server
from tests.support.databases import migrated_database

RECEIVE_TIMEOUT = 1.0
# Bounds every wait for the server's answer: well past the receive timeout, far below a hang.
ANSWER_WITHIN = 10.0


@pytest.fixture
async def server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(
            simulator, database, grpc_request_receive_timeout_seconds=RECEIVE_TIMEOUT
        ) as running,
    ):
        yield running


def framed(message: bytes, *, announced: int | None = None) -> bytes:
    """`message` with gRPC's length prefix, announcing `announced` bytes if given."""
    length = len(message) if announced is None else announced
    return struct.pack(">?I", False, length)  # noqa: FBT003 (the compressed flag) + message


class Answer:
    """What came back on one HTTP/2 stream: headers, data and trailers."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.data = b""
        self.ended = False

    @property
    def grpc_status(self) -> int:
        return int(self.headers["grpc-status"])

    def status_details(self) -> status_pb2.Status:
        encoded = self.headers["grpc-status-details-bin"]
        return status_pb2.Status.FromString(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))


async def exchange(
    port: int, method: str, body: bytes, *, end_stream: bool, token: str | None
) -> tuple[Answer, float]:
    """Send one request on a fresh HTTP/2 connection; wait for the whole answer (bounded).
    Returns it and the seconds it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", f"127.0.0.1:{port}"),
        (":path", method),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    if token is not None:
        headers.append(("authorization", f"Bearer {token}"))
    connection.send_headers(1, headers)
    connection.send_data(1, body, end_stream=end_stream)
    writer.write(connection.data_to_send())
    answer = Answer()
    started = time.monotonic()
    try:
        async with asyncio.timeout(ANSWER_WITHIN):
            while not answer.ended:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                for event in connection.receive_data(chunk):
                    if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                        answer.headers.update(
                            (name.decode(), value.decode()) for name, value in event.headers
                        )
                    elif isinstance(event, h2.events.DataReceived):
                        answer.data += event.data
                        connection.acknowledge_received_data(event.flow_controlled_length, 1)
                    elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                        answer.ended = True
                writer.write(connection.data_to_send())
    finally:
        writer.close()
        await writer.wait_closed()
    return answer, time.monotonic() - started


STATUS = "/ibkr.v1.GatewayService/GetGatewayStatus"
ORDER_EVENTS = "/ibkr.v1.OrderService/StreamOrderEvents"


@pytest.mark.parametrize("end_stream", [False, True], ids=["left-open", "side-ended"])
@pytest.mark.parametrize("method", [STATUS, ORDER_EVENTS], ids=["unary", "server-stream"])
async def test_a_frame_announcing_more_than_it_carries_ends_invalid_argument(
    server: RunningServer, method: str, *, end_stream: bool
) -> None:
    body = framed(b"\x0a\x02ab", announced=100)
    answer, seconds = await exchange(
        server.application.port, method, body, end_stream=end_stream, token=mint(Role.VIEWER)
    )
    assert answer.ended, "the call ended"
    assert answer.grpc_status == 3, answer.headers  # INVALID_ARGUMENT
    details = answer.status_details()
    reasons = set()
    for detail in details.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reasons.add(info.reason)
    assert reasons == {"VALIDATION_ERROR"}, details
    assert answer.data == b"", "nothing was sent before the status"
    if end_stream:
        # grpc-core may notice the short message itself once the client ends its side.
        assert seconds < ANSWER_WITHIN
    else:
        assert RECEIVE_TIMEOUT * 0.9 <= seconds < ANSWER_WITHIN
        assert "did not arrive whole" in details.message


async def test_a_call_with_no_message_ends_invalid_argument_at_once(
    server: RunningServer,
) -> None:
    answer, seconds = await exchange(
        server.application.port, STATUS, b"", end_stream=True, token=mint(Role.VIEWER)
    )
    assert answer.grpc_status == 3, answer.headers
    assert "missing" in answer.status_details().message
    assert seconds < RECEIVE_TIMEOUT


async def test_a_whole_message_is_served_as_before(server: RunningServer) -> None:
    # The same raw exchange with a whole message: the usual answer (streams are covered by
    # every stream test of the suite, which go through the same request-streaming handlers).
    body = framed(gateway_service_pb2.GetGatewayStatusRequest().SerializeToString())
    answer, _ = await exchange(
        server.application.port, STATUS, body, end_stream=True, token=mint(Role.VIEWER)
    )
    assert answer.grpc_status == 0, answer.headers
    status = gateway_service_pb2.GetGatewayStatusResponse.FromString(answer.data[5:])
    assert status.HasField("status")
