"""max_naked_short_options through real gRPC against the simulated gateway: the limit is read
back as set (0 included), and option sells past it are refused, new or modified, unless held
stock covers them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.protobuf import field_mask_pb2

from ibkr.v1 import common_pb2, order_service_pb2, risk_service_pb2
from ibkr.v1 import portfolio_service_pb2 as portfolio_pb
from ibkr_client import ApiError
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, running_server
from tests.server.test_options import AAPL_CON_ID, aapl, aapl_option
from tests.support.databases import migrated_database
from tests.support.waiting import eventually

RULE = "max_naked_short_options"


@pytest.fixture
async def server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    simulator.set_price("AAPL", 190.0)
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as running,
    ):
        yield running


async def set_limit(server: RunningServer, limit: int) -> risk_service_pb2.RiskLimits:
    await server.client.risk.UpdateRiskLimits(
        risk_service_pb2.UpdateRiskLimitsRequest(
            limits=risk_service_pb2.RiskLimits(max_naked_short_options=limit),
            update_mask=field_mask_pb2.FieldMask(paths=[RULE]),
        )
    )
    return (await server.client.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())).limits


def sell_call(strike: str, key: str) -> order_service_pb2.PlaceOrderRequest:
    """A call sold far above its value, so it stays working."""
    return order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        client_order_id=key,
        contract=aapl_option(strike),
        side=common_pb2.SIDE_SELL,
        quantity="1",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price="150",
    )


def assert_refused(raised: pytest.ExceptionInfo[grpc.aio.AioRpcError], requested: str) -> None:
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "POSITION_LIMIT_EXCEEDED"
    assert error.precondition_violations[0].subject == RULE
    assert (error.metadata["limit"], error.metadata["requested"]) == ("1", requested)


async def test_the_limit_is_read_back_and_zero_is_a_limit(server: RunningServer) -> None:
    initial = await server.client.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())
    assert not initial.limits.HasField("max_naked_short_options")
    limits = await set_limit(server, 0)
    assert limits.HasField("max_naked_short_options")
    assert limits.max_naked_short_options == 0
    assert (await set_limit(server, 1_000_000)).max_naked_short_options == 1_000_000
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_limit(server, -1)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_option_sells_past_the_limit_are_refused_unless_stock_covers_them(
    server: RunningServer,
) -> None:
    await set_limit(server, 1)
    placed = await server.client.orders.PlaceOrder(sell_call("190", "naked-call-1"))
    # The working sell counts at its worst (filled): one more naked call is past the limit.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(sell_call("195", "naked-call-2"))
    assert_refused(raised, "2")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.ModifyOrder(
            order_service_pb2.ModifyOrderRequest(order_id=placed.order.order_id, quantity="2")
        )
    assert_refused(raised, "2")
    # 100 shares held long cover one call (a covered call): the second sell passes.
    await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            client_order_id="stock-buy-1",
            contract=aapl(),
            side=common_pb2.SIDE_BUY,
            quantity="100",
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
        )
    )

    async def shares() -> str | None:
        listed = await server.client.portfolio.ListPositions(
            portfolio_pb.ListPositionsRequest(account=ACCOUNT, symbol="AAPL")
        )
        found = [p.quantity for p in listed.positions if p.contract.con_id == AAPL_CON_ID]
        return found[0] if found and found[0] == "100" else None

    await eventually(shares, message="the 100 shares never showed in the positions")
    covered = await server.client.orders.PlaceOrder(sell_call("195", "covered-call-1"))
    assert covered.order.order_id
