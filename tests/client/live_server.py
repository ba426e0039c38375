"""A real server for the client's tests: the application in front of the simulated gateway, on a
port and a SQLite database that stay the same when it is stopped and started again."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import grpc

from ibkr.v1 import common_pb2, gateway_service_pb2, order_service_pb2
from ibkr_client import IbkrClient, RetryPolicy
from ibkr_grpc.app import Application
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import upgrade
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, mint, server_settings, simulator_config
from tests.support.waiting import eventually

AAPL = common_pb2.Contract(symbol="AAPL", security_type=common_pb2.SECURITY_TYPE_STOCK)
# gRPC's own reconnect backoff grows to two minutes; short, so a restarted server is found fast.
FAST_CHANNEL = (("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 500))
QUICK_RETRIES = RetryPolicy(
    initial_delay=timedelta(milliseconds=50), maximum_delay=timedelta(milliseconds=500)
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Servers:
    """Starts the application on one port and database, again and again."""

    def __init__(self, simulator: Simulator, database_url: str) -> None:
        self.simulator = simulator
        self.database_url = database_url
        self.port = free_port()
        self.running: Application | None = None

    async def start(self) -> None:
        settings = server_settings(self.simulator, self.database_url).model_copy(
            update={"grpc_listen": f"127.0.0.1:{self.port}"}
        )
        self.running = Application(settings, database=Database(self.database_url))
        await self.running.start()
        async with self.client() as client:

            async def ready() -> bool:
                # A follower's channel may have the port in its connect backoff, and grpc-core
                # shares that state with this channel: refused until it tries again.
                with contextlib.suppress(grpc.aio.AioRpcError):
                    status = await client.gateway.GetGatewayStatus(
                        gateway_service_pb2.GetGatewayStatusRequest()
                    )
                    return status.status.state == gateway_service_pb2.CONNECTION_STATE_READY
                return False

            await eventually(ready, within=15, message="the restarted server never became ready")

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop(grace=1)
            self.running = None

    def client(self) -> IbkrClient:
        return IbkrClient.connect(
            f"127.0.0.1:{self.port}",
            token=mint(Role.ADMIN, "follower-test"),
            channel_options=FAST_CHANNEL,
        )


@asynccontextmanager
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.sqlite3'}"
    schema = Database(url)
    await upgrade(schema)
    await schema.dispose()
    async with Simulator(simulator_config()) as simulator:
        running = Servers(simulator, url)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


def limit_buy(key: str) -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=AAPL,
        side=common_pb2.SIDE_BUY,
        quantity="5",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price="20",
        time_in_force=order_service_pb2.TIME_IN_FORCE_GTC,
        client_order_id=key,
    )
