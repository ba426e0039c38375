"""The follow_order_events example, run as a user runs it, against a real server: a second run
resumes after the sequence the first one saved."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from ibkr_grpc.domain.identity import Role
from tests.client.live_server import limit_buy, servers
from tests.server.conftest import mint

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "clients"
    / "python"
    / "examples"
    / "follow_order_events.py"
)


async def run_example(port: int, *arguments: str) -> tuple[int | None, list[str], str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        EXAMPLE,
        "--target",
        f"127.0.0.1:{port}",
        "--token",
        mint(Role.VIEWER, "example"),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        output, errors = await process.communicate()
    return process.returncode, output.decode().splitlines(), errors.decode()


@pytest.mark.slow
async def test_the_example_resumes_where_its_last_run_stopped(tmp_path: Path) -> None:
    state = tmp_path / "last-sequence"
    async with servers(tmp_path) as running:
        async with running.client() as trader:
            for key in ("example-1", "example-2", "example-3"):
                await trader.orders.PlaceOrder(limit_buy(key))
        code, first, errors = await run_example(
            running.port, "--state-file", str(state), "--count", "3"
        )
        assert code == 0, errors
        code, second, errors = await run_example(
            running.port, "--state-file", str(state), "--count", "2"
        )
        assert code == 0, errors
        code, _, errors = await run_example(running.port, "--token", "not-a-token")
    assert [line.split()[0] for line in first] == ["1", "2", "3"]
    assert first[0].split()[1] == "CREATED"
    # The second run starts after 3: its replay, its REPLAY_COMPLETE marker, then live.
    events = [line for line in second if not line.startswith("--")]
    assert [line.split()[0] for line in events] == ["4", "5"]
    assert state.read_text(encoding="utf-8") == "5\n"
    assert code == 1
    assert errors.startswith("failed: UNAUTHENTICATED AUTHENTICATION_FAILED")
