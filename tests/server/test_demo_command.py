"""`ibkr-grpc demo` as a newcomer runs it, twice: each run starts afresh (no orders, fills or
risk limits of the last one, a new secret) unless --keep-data, prints working tokens for every
role, and `ibkr-grpc token` mints more for the running demo."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from ibkr.v1 import (
    common_pb2,
    gateway_service_pb2,
    order_service_pb2,
    risk_service_pb2,
)
from ibkr_client import ApiError, IbkrClient
from tests.server.test_serve_command import free_port

COMMAND = Path(sys.executable).parent / "ibkr-grpc"
pytestmark = pytest.mark.slow


@dataclass
class RunningDemo:
    target: str
    tokens: dict[str, str]
    client_order_id: str
    banner: str


def environment() -> dict[str, str]:
    # A JWT_SECRET in the developer's shell must not decide which secret `token` signs with.
    return {name: value for name, value in os.environ.items() if name.upper() != "JWT_SECRET"}


@asynccontextmanager
async def demo(state: Path, *extra: str) -> AsyncIterator[RunningDemo]:
    grpc_port = free_port()
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        "demo",
        "--no-edge",
        "--grpc-listen",
        f"127.0.0.1:{grpc_port}",
        "--simulator-port",
        str(free_port()),
        "--metrics-listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state),
        *extra,
        env=environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not lines or "replay_last" not in lines[-1]:
                line = await process.stdout.readline()
                assert line, "".join(lines)
                lines.append(line.decode())
        banner = "".join(lines)
        tokens = dict(re.findall(r"^  export (\w+)=(\S+)$", banner, re.MULTILINE))
        key = re.search(r'"client_order_id":"([^"]+)"', banner)
        assert key is not None, banner
        yield RunningDemo(f"127.0.0.1:{grpc_port}", tokens, key.group(1), banner)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest, _ = await process.communicate()
        assert process.returncode == 0, rest.decode()
        assert "ibkr-grpc demo stopped" in rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def market_buy(client_order_id: str) -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account="DU1234567",
        client_order_id=client_order_id,
        contract=common_pb2.Contract(symbol="AAPL"),
        side=common_pb2.SIDE_BUY,
        quantity="10",
        order_type=order_service_pb2.ORDER_TYPE_MARKET,
    )


async def orders_and_fills(client: IbkrClient) -> tuple[int, int]:
    orders = await client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
    fills = await client.orders.ListFills(order_service_pb2.ListFillsRequest())
    return len(orders.orders), len(fills.fills)


async def minted(state: Path, role: str) -> str:
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        "token",
        "--role",
        role,
        "--subject",
        "alice",
        "--demo-state",
        str(state),
        env=environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await process.communicate()
    assert process.returncode == 0, errors.decode()
    return output.decode().strip()


async def test_each_run_starts_afresh_with_tokens_for_every_role(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with demo(state) as first:
        assert set(first.tokens) == {"TOKEN", "TRADER_TOKEN", "VIEWER_TOKEN"}
        secret = (state / "jwt-secret").read_text(encoding="utf-8").strip()
        assert (state / "jwt-secret").stat().st_mode & 0o777 == 0o600
        assert secret not in first.banner
        async with IbkrClient.connect(first.target, token=first.tokens["TOKEN"]) as admin:
            placed = await admin.orders.PlaceOrder(market_buy(first.client_order_id))
            again = await admin.orders.PlaceOrder(market_buy(first.client_order_id))
            assert again.order.order_id == placed.order.order_id
            await admin.risk.UpdateRiskLimits(
                risk_service_pb2.UpdateRiskLimitsRequest(
                    limits=risk_service_pb2.RiskLimits(max_order_quantity="5000")
                )
            )
        async with IbkrClient.connect(first.target, token=first.tokens["VIEWER_TOKEN"]) as viewer:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await viewer.orders.PlaceOrder(market_buy("viewer-1"))
            assert ApiError.from_rpc_error(refused.value).reason == "PERMISSION_DENIED"
        trader_token = await minted(state, "trader")
        async with IbkrClient.connect(first.target, token=trader_token) as trader:
            await trader.orders.PlaceOrder(market_buy("minted-1"))
    assert not (state / "jwt-secret").exists()

    async with demo(state) as second:
        async with IbkrClient.connect(second.target, token=second.tokens["TOKEN"]) as admin:
            assert await orders_and_fills(admin) == (0, 0)
            limits = await admin.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())
            assert limits.limits.max_order_quantity == ""
            await admin.orders.PlaceOrder(market_buy(second.client_order_id))
        async with IbkrClient.connect(second.target, token=first.tokens["TOKEN"]) as stale:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stale.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
            assert ApiError.from_rpc_error(refused.value).reason == "AUTHENTICATION_FAILED"

    async with (
        demo(state, "--keep-data") as third,
        IbkrClient.connect(third.target, token=third.tokens["TOKEN"]) as admin,
    ):
        orders, _ = await orders_and_fills(admin)
        assert orders == 1
    # --keep-data keeps the secret too, so this run's tokens work in the next --keep-data run.
    assert (state / "jwt-secret").exists()
