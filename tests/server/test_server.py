"""The server around the services: health, reflection, audit, previews and the session's
behaviour when the gateway misbehaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ibkr.v1 import common_pb2, gateway_service_pb2, order_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.app import Application
from ibkr_grpc.store.audit_store import AuditStore
from ibkr_grpc.store.database import Database
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, server_settings
from tests.server.test_orders import AAPL, limit_buy
from tests.support.waiting import eventually

# grpc_health ships no type stubs: its enum values are read once, as ints.
SERVING = int(health_pb2.HealthCheckResponse.SERVING)
NOT_SERVING = int(health_pb2.HealthCheckResponse.NOT_SERVING)


async def health_of(server: RunningServer, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(server.client.channel)
    response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
    return int(response.status)


async def test_health_follows_the_gateway_session(server: RunningServer) -> None:
    serving = SERVING
    assert await health_of(server, "") == serving
    assert await health_of(server, "ibkr.v1.OrderService") == serving
    await server.simulator.refuse_connections(30)

    async def not_serving() -> bool:
        return await health_of(server, "ibkr.v1.OrderService") == NOT_SERVING

    await eventually(not_serving)
    assert await health_of(server, "ibkr.v1.GatewayService") == serving
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(limit_buy("10.00", key="while-down"))
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.reason == "IB_CONNECTION_FAILED"
    assert error.retry_delay is not None


async def test_reflection_lists_every_service(server: RunningServer) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(server.client.channel)

    async def requests() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    responses = [response async for response in stub.ServerReflectionInfo(requests())]
    names = {service.name for service in responses[0].list_services_response.service}
    assert names >= {
        "ibkr.v1.OrderService",
        "ibkr.v1.PortfolioService",
        "ibkr.v1.GatewayService",
        "grpc.health.v1.Health",
    }


async def test_every_mutating_call_is_audited(server: RunningServer) -> None:
    placed = await server.client.orders.PlaceOrder(limit_buy("20.00", key="audited"))
    with pytest.raises(grpc.aio.AioRpcError):
        await server.client.orders.CancelOrder(
            order_service_pb2.CancelOrderRequest(order_id="ord_nope")
        )
    await server.client.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
    entries = await AuditStore(server.database).recent()
    assert [(e.action, e.outcome, e.target) for e in reversed(entries)] == [
        ("PlaceOrder", "OK", placed.order.order_id),
        ("CancelOrder", "NOT_FOUND", "ord_nope"),
    ]
    assert all(entry.request_id and entry.subject for entry in entries)
    assert '"client_order_id": "audited"' in entries[-1].detail["request"]


async def test_validate_only_previews_and_sends_nothing(server: RunningServer) -> None:
    request = limit_buy("150.00", key="dry-run")
    request.validate_only = True
    response = await server.client.orders.PlaceOrder(request)
    assert response.preview.notional == "1500"
    assert response.preview.currency == "USD"
    listed = await server.client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
    assert list(listed.orders) == []


async def test_an_unknown_symbol_is_an_invalid_contract(server: RunningServer) -> None:
    request = limit_buy("10.00", key="bad-symbol")
    request.contract.CopyFrom(common_pb2.Contract(symbol="NOSUCHTHING"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(request)
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "IB_INVALID_CONTRACT"


async def test_while_ib_is_unreachable_orders_wait_and_its_reports_arrive_after(
    server: RunningServer,
) -> None:
    """1100: IB's link to the gateway is down; the socket stays up and IB keeps working resting
    orders, whose reports arrive after 1102 ("Existing orders (native types) will operate
    normally although execution reports ... will be delayed until the reset is complete":
    https://interactivebrokers.github.io/tws-api/message_codes.html). The server refuses new
    orders meanwhile, and is READY again at 1102 without reconnecting."""

    async def status() -> gateway_service_pb2.GatewayStatus:
        request = gateway_service_pb2.GetGatewayStatusRequest()
        return (await server.client.gateway.GetGatewayStatus(request)).status

    price = f"{float(server.simulator.quote('AAPL').bid) * 0.9:.2f}"
    resting = (await server.client.orders.PlaceOrder(limit_buy(price, key="resting"))).order
    before = await status()
    server.simulator.connectivity_lost()

    async def lost() -> bool:
        current = await status()
        return current.state != gateway_service_pb2.CONNECTION_STATE_READY

    await eventually(lost)
    assert (await status()).last_error_code == 1100
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(limit_buy(price, key="during-outage"))
    assert ApiError.from_rpc_error(raised.value).reason == "IB_CONNECTION_FAILED"
    server.simulator.set_price("AAPL", float(price) - 1)  # IB fills it meanwhile
    server.simulator.connectivity_restored()

    async def ready_again() -> bool:
        current = await status()
        return (
            current.state == gateway_service_pb2.CONNECTION_STATE_READY
            and current.ready_since.ToDatetime() > before.ready_since.ToDatetime()
        )

    await eventually(ready_again, within=15)
    assert (await status()).reconnect_attempts == 0

    async def filled() -> bool:
        request = order_service_pb2.GetOrderRequest(order_id=resting.order_id)
        order = (await server.client.orders.GetOrder(request)).order
        return order.status == order_service_pb2.ORDER_STATUS_FILLED

    await eventually(filled, message="the fill IB held during the outage was not recorded")


async def test_order_ids_are_never_reused_after_a_gateway_restart(server: RunningServer) -> None:
    first = await server.client.orders.PlaceOrder(limit_buy("30.00", key="before-restart"))
    await server.client.orders.CancelOrder(
        order_service_pb2.CancelOrderRequest(order_id=first.order.order_id)
    )
    await server.simulator.refuse_connections(0.5, reset_order_ids=True)
    await server.wait_until_ready()
    second = await server.client.orders.PlaceOrder(limit_buy("31.00", key="after-restart"))
    assert second.order.broker_order_id > first.order.broker_order_id
    assert second.order.status == order_service_pb2.ORDER_STATUS_SUBMITTED
    assert second.order.account == ACCOUNT
    assert AAPL.symbol == second.order.contract.symbol


async def test_a_failed_start_reports_its_own_error_and_stops_cleanly(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A risk-limits file with an unknown key stops start() early (before the bus and the
    event feed exist); stop() afterwards closes what was opened and does not hide the error
    behind one of its own."""
    limits = tmp_path / "limits.json"
    limits.write_text('{"max_order_quantity": "10", "no_such_limit": 1}')
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'orders.sqlite3'}")
    settings = server_settings(simulator, database.url).model_copy(
        update={"risk_limits_file": limits}
    )
    application = Application(settings, database=database)
    with pytest.raises(ValueError, match="no_such_limit"):
        await application.start()
    await application.stop()
    await application.stop()
