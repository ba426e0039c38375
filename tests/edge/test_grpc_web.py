"""gRPC-Web through Envoy, as the browser UI speaks it, driven by `buf curl --protocol grpcweb`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.edge.conftest import Edge
from tests.edge.envoy_process import REPOSITORY

BUF = REPOSITORY / "node_modules" / ".bin" / "buf"


@asynccontextmanager
async def buf_curl(
    edge: Edge, method: str, body: object, *, stdout: int = asyncio.subprocess.PIPE
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`buf curl` calling `method` through Envoy, its schema from server reflection (through
    Envoy too). node_modules/.bin/buf is a node script that starts the real binary: the whole
    process group is killed on exit, or the binary would live on and keep the pipe open."""
    process = await asyncio.create_subprocess_exec(
        BUF,
        "curl",
        "--protocol",
        "grpcweb",
        f"{edge.base_url}/{method}",
        "--data",
        json.dumps(body),
        "--header",
        f"authorization: Bearer {edge.token}",
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def call(edge: Edge, method: str, body: object) -> tuple[int, Any]:
    """A unary call: buf's exit code, and the response or the error as JSON."""
    async with buf_curl(edge, method, body) as process, asyncio.timeout(20):
        output, errors = await process.communicate()
    assert process.returncode is not None
    return process.returncode, json.loads(output.decode() or errors.decode())


class MessageReader:
    """The JSON messages `buf curl` prints for a server stream, taken one by one as they come."""

    def __init__(self, output: asyncio.StreamReader) -> None:
        self._output = output
        self._buffer = ""
        self._decoder = json.JSONDecoder()

    async def next(self, within: float = 5.0) -> Any:
        async with asyncio.timeout(within):
            while True:
                text = self._buffer.lstrip()
                if text:
                    try:
                        message, end = self._decoder.raw_decode(text)
                    except json.JSONDecodeError:
                        pass  # incomplete: read more
                    else:
                        self._buffer = text[end:]
                        return message
                chunk = await self._output.read(4096)
                if not chunk:
                    raise AssertionError("buf curl ended the stream")
                self._buffer += chunk.decode()


@asynccontextmanager
async def buf_curl_stream(edge: Edge, method: str, body: object) -> AsyncIterator[MessageReader]:
    async with buf_curl(edge, method, body) as process:
        assert process.stdout is not None
        yield MessageReader(process.stdout)


async def test_unary_call_over_grpc_web(edge: Edge) -> None:
    code, response = await call(edge, "ibkr.v1.GatewayService/GetGatewayStatus", {})
    assert code == 0, response
    assert response["status"]["state"] == "CONNECTION_STATE_READY"


async def test_errors_over_grpc_web_keep_their_code_and_details(edge: Edge) -> None:
    code, error = await call(edge, "ibkr.v1.OrderService/GetOrder", {"orderId": "ord_none"})
    assert code != 0
    assert error["code"] == "not_found"
    assert error["details"][0]["type"] == "google.rpc.ErrorInfo"


async def test_server_stream_messages_arrive_one_by_one_over_grpc_web(edge: Edge) -> None:
    async with buf_curl_stream(
        edge, "ibkr.v1.GatewayService/StreamGatewayStatus", {"heartbeatInterval": "1s"}
    ) as messages:
        first = await messages.next()
        assert first["status"]["state"] == "CONNECTION_STATE_READY"
        # A second later, while the stream is still open: nothing waits for its end.
        second = await messages.next()
        assert "serverTime" in second["heartbeat"]
