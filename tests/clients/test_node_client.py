"""The Node.js client (clients/node: @connectrpc/connect-node speaking native gRPC over HTTP/2,
with the generated @ibkr-grpc/client package) built with tsc and run against a real server: it
authenticates with a bearer token, places an order under a client_order_id and follows the
order-event log across a stream it drops itself, resuming with after_sequence."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ibkr_grpc.domain.identity import Role
from tests.clients.place_and_follow import (
    ACCOUNT,
    check_the_run,
    limit_buy,
    run_program,
    servers,
)
from tests.server.conftest import mint

REPOSITORY = Path(__file__).resolve().parents[2]
NODE_CLIENT = REPOSITORY / "clients" / "node"
TYPESCRIPT_CLIENT_BUILD = REPOSITORY / "clients" / "typescript" / "dist" / "index.js"


@pytest.fixture(scope="module")
def program() -> list[str]:
    node = shutil.which("node")
    assert node is not None, "Node.js is missing"
    assert TYPESCRIPT_CLIENT_BUILD.exists(), "the TypeScript client is not built: run make setup"
    result = subprocess.run(
        [str(REPOSITORY / "node_modules" / ".bin" / "tsc"), "-p", str(NODE_CLIENT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [node, str(NODE_CLIENT / "dist" / "placeAndFollow.js")]


@pytest.mark.slow
async def test_the_node_client_places_an_order_and_resumes_the_event_stream(
    program: list[str], tmp_path: Path
) -> None:
    async with servers(tmp_path) as running, running.client() as trader:
        # Someone else's order first: the log the program replays does not start with its own.
        await trader.orders.PlaceOrder(limit_buy("earlier-order"))
        target = ["--target", f"127.0.0.1:{running.port}"]
        order = [
            "--account",
            ACCOUNT,
            "--symbol",
            "AAPL",
            "--quantity",
            "5",
            "--limit-price",
            "20",
            "--client-order-id",
            "node-client-1",
        ]
        token = mint(Role.TRADER, "node-client", frozenset({ACCOUNT}))
        run = await run_program([*program, *target, "--token", token, *order])
        await check_the_run(run, "node-client-1", trader)
        refused = await run_program([*program, *target, "--token", "not-a-token", *order])
    assert refused.code == 1
    assert refused.errors.startswith("failed: Unauthenticated AUTHENTICATION_FAILED"), (
        refused.errors
    )
