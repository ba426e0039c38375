"""The health checks of compose.yaml and server/Dockerfile, run as written against a real
server and simulator: a probe that cannot pass would keep the stack from ever starting."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.deployment.stack import (
    dockerfile_healthcheck,
    healthcheck_command,
    interpolate,
    services,
)
from tests.server.conftest import RunningServer

COMMAND = Path(sys.executable).parent / "ibkr-grpc"


async def exit_code(command: list[str]) -> int:
    assert command[0] == "ibkr-grpc"
    process = await asyncio.create_subprocess_exec(COMMAND, *command[1:])
    return await process.wait()


async def test_the_server_image_healthcheck_passes_on_a_live_server(
    live_server: RunningServer,
) -> None:
    probe = dockerfile_healthcheck()
    probe[probe.index("--target") + 1] = f"127.0.0.1:{live_server.application.port}"
    assert await exit_code(probe) == 0


async def test_the_simulator_healthcheck_passes_on_a_live_simulator(
    live_server: RunningServer,
) -> None:
    probe = [interpolate(part) for part in healthcheck_command(services()["simulator"])]
    probe[probe.index("--port") + 1] = str(live_server.simulator.port)
    assert await exit_code(probe) == 0


async def test_the_gateway_healthcheck_fails_where_no_gateway_answers(
    live_server: RunningServer,
) -> None:
    probe = [interpolate(part) for part in healthcheck_command(services()["ib-gateway-health"])]
    probe[probe.index("--host") + 1] = "127.0.0.1"
    # The server's own gRPC port: something listens, but it does not speak the TWS API.
    probe[probe.index("--port") + 1] = str(live_server.application.port)
    probe[probe.index("--timeout") + 1] = "1"
    assert await exit_code(probe) == 1
