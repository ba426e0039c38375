"""The container health checks, run as commands against a real gateway and server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer

COMMAND = Path(sys.executable).parent / "ibkr-grpc"


async def run(*arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        COMMAND, *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(30):
        output, _ = await process.communicate()
    return int(process.returncode or 0), output.decode().strip()


async def test_probe_gateway(simulator: Simulator) -> None:
    code, output = await run("probe-gateway", "--port", str(simulator.port), "--client-id", "990")
    assert (code, output) == (0, f"IB Gateway at 127.0.0.1:{simulator.port}: ready")
    await simulator.refuse_connections(5)
    code, output = await run("probe-gateway", "--port", str(simulator.port), "--timeout", "1")
    assert code == 1
    assert output.endswith("not ready")


async def test_probe_health(server: RunningServer) -> None:
    target = f"127.0.0.1:{server.application.port}"
    assert await run("probe-health", "--target", target) == (0, f"{target} server: SERVING")
    await server.application.stop(grace=0)
    code, output = await run("probe-health", "--target", target, "--timeout", "1")
    assert code == 1
    assert "unreachable" in output
