"""`ibkr-grpc serve` as an operator runs it: a process, configured by the environment,
stopped by SIGTERM with open streams ended cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import grpc
import grpc.aio
import pytest

from ibkr.v1 import gateway_service_pb2, order_service_pb2
from ibkr_client import ApiError, IbkrClient
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from tests.server.conftest import JWT_SECRET, mint
from tests.support.waiting import eventually

COMMAND = Path(sys.executable).parent / "ibkr-grpc"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sigterm_ends_streams_with_unavailable_and_exits_cleanly(
    simulator: Simulator, tmp_path: Path
) -> None:
    port = free_port()
    environment = os.environ | {
        "IB_PORT": str(simulator.port),
        "IB_CLIENT_ID": "21",
        "GRPC_LISTEN": f"127.0.0.1:{port}",
        "METRICS_LISTEN": "127.0.0.1:0",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}",
        "LOG_LEVEL": "INFO",
        "JWT_SECRET": JWT_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        "serve",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with IbkrClient.connect(f"127.0.0.1:{port}", token=mint(Role.VIEWER)) as client:

            async def ready() -> bool:
                try:
                    response = await client.gateway.GetGatewayStatus(
                        gateway_service_pb2.GetGatewayStatusRequest(), timeout=1
                    )
                except grpc.aio.AioRpcError:
                    return False
                return response.status.state == gateway_service_pb2.CONNECTION_STATE_READY

            await eventually(ready, within=20, message="ibkr-grpc serve never became ready")
            stream = client.orders.StreamOrderEvents(order_service_pb2.StreamOrderEventsRequest())
            first = await anext(aiter(stream))
            assert first.WhichOneof("payload") == "marker"
            process.send_signal(signal.SIGTERM)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                async for _ in stream:
                    pass
            error = ApiError.from_rpc_error(raised.value)
            assert error.code == grpc.StatusCode.UNAVAILABLE
            # The server ends the stream with SERVICE_UNAVAILABLE; when grpc-core closes the
            # connection before those trailers are written, the client sees the same code with
            # no details (the long fault run shows both; the cause in grpc's stop is open).
            assert error.reason in {"SERVICE_UNAVAILABLE", ""}
        async with asyncio.timeout(20):
            output, _ = await process.communicate()
        assert process.returncode == 0, output.decode()
        lines = output.decode().splitlines()
        assert any('"event": "stopped"' in line for line in lines)
        assert all(line.startswith("{") for line in lines if line.strip())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
