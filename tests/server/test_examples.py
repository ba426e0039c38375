"""The Python client's example script, run as a user runs it, against a real server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ibkr_grpc.domain.identity import Role
from tests.server.conftest import RunningServer, mint

EXAMPLE = Path(__file__).resolve().parents[2] / "clients" / "python" / "examples" / "quickstart.py"


async def test_the_quickstart_example_runs(server: RunningServer) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        EXAMPLE,
        "--target",
        f"127.0.0.1:{server.application.port}",
        "--token",
        mint(Role.TRADER, "quickstart"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        output, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    lines = output.decode().splitlines()
    assert lines[0] == "gateway: CONNECTION_STATE_READY, accounts ['DU1234567']"
    assert lines[1].startswith("DU1234567: net liquidation ")
    assert lines[2].startswith("AAPL: bid ")
    assert lines[3].startswith("dry run: notional ")
