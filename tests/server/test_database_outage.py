"""A database outage, end to end, on a PostgreSQL server of the test's own: order commands answer
UNAVAILABLE and send nothing, health says NOT_SERVING, and a fill IB reports meanwhile is applied
as soon as the database is back, without waiting for a gateway reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ibkr.v1 import order_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import upgrade
from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer, running_server
from tests.server.test_orders import limit_buy, order_status
from tests.support.private_postgres import PrivatePostgres, private_postgres
from tests.support.waiting import eventually

ORDER_SERVICE = "ibkr.v1.OrderService"


@pytest.fixture
async def postgres() -> AsyncIterator[PrivatePostgres]:
    async with private_postgres() as server:
        yield server


@pytest.fixture
async def outage_server(
    simulator: Simulator, postgres: PrivatePostgres
) -> AsyncIterator[tuple[RunningServer, PrivatePostgres]]:
    database = Database(postgres.url)
    await upgrade(database)
    try:
        async with running_server(simulator, database) as server:
            yield server, postgres
    finally:
        await database.dispose()


async def order_service_health(server: RunningServer) -> int:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.application.port}")
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=ORDER_SERVICE))
        return int(response.status)
    finally:
        await channel.close(None)


async def test_orders_wait_out_a_database_outage(
    outage_server: tuple[RunningServer, PrivatePostgres],
) -> None:
    server, postgres = outage_server
    price = f"{float(server.simulator.quote('AAPL').bid) * 0.9:.2f}"
    resting = (await server.client.orders.PlaceOrder(limit_buy(price, key="before"))).order
    await postgres.stop()

    async def not_serving() -> bool:
        status = await order_service_health(server)
        return bool(status == health_pb2.HealthCheckResponse.NOT_SERVING)

    await eventually(not_serving, within=15, message="health stayed SERVING without a database")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(limit_buy(price, key="during"))
    error = ApiError.from_rpc_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "SERVICE_UNAVAILABLE")
    assert error.retry_delay is not None
    assert server.simulator.status().open_orders == 1  # nothing unstored reached IB
    # IB fills the resting order while the database is down.
    server.simulator.set_price("AAPL", float(price) - 1)
    await postgres.start()
    await eventually(
        lambda: _filled(server, resting.order_id),
        within=20,
        message="the fill reported during the outage was not applied",
    )

    async def serving() -> bool:
        status = await order_service_health(server)
        return bool(status == health_pb2.HealthCheckResponse.SERVING)

    await eventually(serving, within=15)
    assert server.application.session.state().reconnect_attempts == 0


async def _filled(server: RunningServer, order_id: str) -> bool:
    return await order_status(server, order_id) == order_service_pb2.ORDER_STATUS_FILLED
