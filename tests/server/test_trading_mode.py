"""TRADING_MODE against the accounts IB reports, end to end: a paper server logged in to a live
account refuses new and modified orders (TRADING_MODE_MISMATCH), says why in GetGatewayStatus
and health, and still cancels; matching settings trade as usual.

Live account ids start with U, paper ones with D (DU1234567): the sources are cited in
tests/domain/test_trading_mode.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import grpc
import grpc.aio
import pytest
from pydantic import SecretStr

from ibkr.v1 import gateway_service_pb2, order_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.settings import LIVE_TRADING_CONFIRMATION
from ibkr_grpc.store.database import Database
from ibkr_simulator import Simulator
from ibkr_simulator.config import SimulatorConfig
from tests.server.conftest import RunningServer, running_server
from tests.server.test_orders import limit_buy
from tests.server.test_server import NOT_SERVING, SERVING, health_of
from tests.support.market_hours import TRADING_MORNING
from tests.support.waiting import eventually

LIVE_ACCOUNT = "U1234567"
LIVE_SETTINGS = {
    "trading_mode": TradingMode.LIVE,
    "live_trading_confirmation": SecretStr(LIVE_TRADING_CONFIRMATION),
}


@pytest.fixture
async def live_gateway() -> AsyncIterator[Simulator]:
    """The simulated gateway logged in to a live-looking account."""
    config = SimulatorConfig(
        start_time=TRADING_MORNING,
        port=0,
        seed=7,
        tick_rate=0,
        accounts=(LIVE_ACCOUNT,),
        account_update_interval=0.2,
    )
    async with Simulator(config) as running:
        yield running


def resting_buy(
    server: RunningServer, *, account: str, key: str
) -> order_service_pb2.PlaceOrderRequest:
    below = f"{float(server.simulator.quote('AAPL').bid) * 0.9:.2f}"
    request = limit_buy(below, key=key)
    request.account = account
    return request


async def gateway_status(server: RunningServer) -> gateway_service_pb2.GatewayStatus:
    response = await server.client.gateway.GetGatewayStatus(
        gateway_service_pb2.GetGatewayStatusRequest()
    )
    return response.status


async def refusal(call: Awaitable[object]) -> ApiError:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return ApiError.from_rpc_error(error)
    message = "the call was not refused"
    raise AssertionError(message)


async def place_working_order_as_live(gateway: Simulator, database: Database) -> str:
    """A confirmed live server on the live login trades, and leaves an order working."""
    async with running_server(gateway, database, **LIVE_SETTINGS) as live:
        assert (await gateway_status(live)).trading_blocked_reason == ""
        placed = await live.client.orders.PlaceOrder(
            resting_buy(live, account=LIVE_ACCOUNT, key="resting")
        )
        assert placed.order.status == order_service_pb2.ORDER_STATUS_SUBMITTED
        return placed.order.order_id


async def test_a_paper_server_on_a_live_login_says_why_and_still_cancels(
    live_gateway: Simulator, database: Database
) -> None:
    working = await place_working_order_as_live(live_gateway, database)
    # The same login under the default paper setting: the accident this guards against.
    async with running_server(live_gateway, database) as paper:
        status = await gateway_status(paper)
        assert status.state == gateway_service_pb2.CONNECTION_STATE_READY
        assert "TRADING_MODE=paper" in status.trading_blocked_reason
        assert LIVE_ACCOUNT in status.trading_blocked_reason
        stream = paper.client.gateway.StreamGatewayStatus(
            gateway_service_pb2.StreamGatewayStatusRequest()
        )
        first = await anext(aiter(stream))
        stream.cancel()
        assert first.status.trading_blocked_reason == status.trading_blocked_reason

        async def order_service_not_serving() -> bool:
            return await health_of(paper, "ibkr.v1.OrderService") == NOT_SERVING

        await eventually(order_service_not_serving)
        assert await health_of(paper, "") == NOT_SERVING
        assert await health_of(paper, "ibkr.v1.PortfolioService") == SERVING
        assert await health_of(paper, "ibkr.v1.GatewayService") == SERVING

        # Getting out always works.
        await paper.client.orders.CancelOrder(
            order_service_pb2.CancelOrderRequest(order_id=working)
        )

        async def cancelled() -> bool:
            response = await paper.client.orders.GetOrder(
                order_service_pb2.GetOrderRequest(order_id=working)
            )
            return response.order.status == order_service_pb2.ORDER_STATUS_CANCELLED

        await eventually(cancelled, message="the working order was never cancelled")


async def test_a_paper_server_on_a_live_login_refuses_new_and_modified_orders(
    live_gateway: Simulator, database: Database
) -> None:
    working = await place_working_order_as_live(live_gateway, database)
    async with running_server(live_gateway, database) as paper:
        placing = await refusal(
            paper.client.orders.PlaceOrder(resting_buy(paper, account=LIVE_ACCOUNT, key="new"))
        )
        assert placing.code == grpc.StatusCode.FAILED_PRECONDITION
        assert placing.reason == "TRADING_MODE_MISMATCH"
        assert LIVE_ACCOUNT in placing.message
        modifying = await refusal(
            paper.client.orders.ModifyOrder(
                order_service_pb2.ModifyOrderRequest(order_id=working, quantity="5")
            )
        )
        assert modifying.code == grpc.StatusCode.FAILED_PRECONDITION
        assert modifying.reason == "TRADING_MODE_MISMATCH"


async def test_a_paper_server_on_a_paper_login_trades(server: RunningServer) -> None:
    status = await gateway_status(server)
    assert list(status.managed_accounts) == ["DU1234567"]
    assert status.trading_blocked_reason == ""
    assert await health_of(server, "") == SERVING
    assert await health_of(server, "ibkr.v1.OrderService") == SERVING
    placed = await server.client.orders.PlaceOrder(
        resting_buy(server, account="DU1234567", key="paper-order")
    )
    assert placed.order.status == order_service_pb2.ORDER_STATUS_SUBMITTED
