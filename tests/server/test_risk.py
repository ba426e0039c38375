"""Pre-trade risk rules, circuit breakers and the kill switch, through real gRPC with real
tokens against the simulated gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.protobuf import duration_pb2, field_mask_pb2

from ibkr.v1 import common_pb2, order_service_pb2, risk_service_pb2
from ibkr_client import ApiError, IbkrClient
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.store.audit_store import AuditStore
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, running_server
from tests.support.databases import migrated_database
from tests.support.waiting import eventually

PRICE = 100.0


@pytest.fixture
async def risky(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A server on SQLite with AAPL held at 100.00, so notional and collar maths are exact."""
    simulator.freeze_price("AAPL")
    simulator.set_price("AAPL", PRICE)
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        yield server


def order(
    quantity: str = "1",
    *,
    order_type: order_service_pb2.OrderType.ValueType = order_service_pb2.ORDER_TYPE_LIMIT,
    limit: str = "100",
    symbol: str = "AAPL",
    key: str = "",
    validate_only: bool = True,
    outside_regular_hours: bool = False,
    side: common_pb2.Side.ValueType = common_pb2.SIDE_BUY,
) -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=common_pb2.Contract(symbol=symbol),
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit if order_type == order_service_pb2.ORDER_TYPE_LIMIT else "",
        validate_only=validate_only,
        client_order_id=key,
        outside_regular_hours=outside_regular_hours,
    )


async def set_limits(
    server: RunningServer, limits: risk_service_pb2.RiskLimits, *paths: str
) -> None:
    await server.client.risk.UpdateRiskLimits(
        risk_service_pb2.UpdateRiskLimitsRequest(
            limits=limits, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
        )
    )


async def refused(client: IbkrClient, request: order_service_pb2.PlaceOrderRequest) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.orders.PlaceOrder(request)
    return ApiError.from_rpc_error(raised.value)


async def accepted(
    client: IbkrClient, request: order_service_pb2.PlaceOrderRequest
) -> order_service_pb2.PlaceOrderResponse:
    return await client.orders.PlaceOrder(request)


RULES = [
    # (limits, mask, accepted request, refused request, reason, limit in metadata)
    (risk_service_pb2.RiskLimits(max_order_quantity="100"), "max_order_quantity", order("100"), order("101"), "ORDER_SIZE_LIMIT_EXCEEDED", "100"),
    (risk_service_pb2.RiskLimits(max_order_notional="10000"), "max_order_notional", order("100"), order("100", limit="100.01"), "ORDER_SIZE_LIMIT_EXCEEDED", "10000"),
    (risk_service_pb2.RiskLimits(denied_symbols=["AAPL"]), "denied_symbols", order(symbol="MSFT", limit="400"), order(), "SYMBOL_NOT_ALLOWED", "allow/deny lists"),
    (risk_service_pb2.RiskLimits(allowed_symbols=["MSFT"]), "allowed_symbols", order(symbol="MSFT", limit="400"), order(), "SYMBOL_NOT_ALLOWED", "allow/deny lists"),
    (risk_service_pb2.RiskLimits(market_orders_allowed=False), "market_orders_allowed", order(), order(order_type=order_service_pb2.ORDER_TYPE_MARKET), "ORDER_TYPE_NOT_ALLOWED", "false"),
    (risk_service_pb2.RiskLimits(outside_regular_hours_allowed=False), "outside_regular_hours_allowed", order(), order(outside_regular_hours=True), "ORDER_TYPE_NOT_ALLOWED", "false"),
    (risk_service_pb2.RiskLimits(price_collar_percent="5"), "price_collar_percent", order(limit="105"), order(limit="105.01"), "PRICE_OUTSIDE_COLLAR", "5"),
    (risk_service_pb2.RiskLimits(max_position_quantity="10"), "max_position_quantity", order("10"), order("11"), "POSITION_LIMIT_EXCEEDED", "10"),
    (risk_service_pb2.RiskLimits(max_gross_exposure="1000"), "max_gross_exposure", order("10"), order("10", limit="100.01"), "POSITION_LIMIT_EXCEEDED", "1000"),
]  # fmt: skip


@pytest.mark.parametrize(("limits", "mask", "at_limit", "past_limit", "reason", "limit"), RULES)
async def test_each_rule_accepts_at_the_limit_and_refuses_just_past_it(
    risky: RunningServer,
    limits: risk_service_pb2.RiskLimits,
    mask: str,
    at_limit: order_service_pb2.PlaceOrderRequest,
    past_limit: order_service_pb2.PlaceOrderRequest,
    reason: str,
    limit: str,
) -> None:
    await set_limits(risky, limits, mask)
    async with risky.client_as(Role.TRADER) as trader:
        preview = await accepted(trader, at_limit)
        assert preview.preview.currency
        error = await refused(trader, past_limit)
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == reason
    assert error.metadata["limit"] == limit
    assert error.metadata["requested"]
    assert error.precondition_violations[0].type == "RISK"
    assert error.precondition_violations[0].subject == mask


async def test_open_orders_and_order_rate_count_real_orders(risky: RunningServer) -> None:
    await set_limits(risky, risk_service_pb2.RiskLimits(max_open_orders=2), "max_open_orders")
    async with risky.client_as(Role.TRADER) as trader:
        for index in range(2):
            await accepted(trader, order(limit="90", key=f"open-{index}", validate_only=False))
        error = await refused(trader, order(limit="90", key="open-2", validate_only=False))
        assert (error.reason, error.metadata["limit"], error.metadata["requested"]) == (
            "OPEN_ORDER_LIMIT_EXCEEDED",
            "2",
            "3",
        )
        await risky.client.orders.CancelAllOrders(order_service_pb2.CancelAllOrdersRequest())
        await set_limits(
            risky,
            risk_service_pb2.RiskLimits(max_orders_per_minute=3),
            "max_open_orders",
            "max_orders_per_minute",
        )
        await accepted(trader, order(limit="90", key="rate-0", validate_only=False))
        error = await refused(trader, order(limit="90", key="rate-1", validate_only=False))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.reason == "RATE_LIMIT_EXCEEDED"
    assert error.retry_delay is not None


async def test_limits_are_read_back_and_survive_a_restart(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with migrated_database("sqlite", tmp_path) as database:
        async with running_server(simulator, database) as server:
            await set_limits(
                server, risk_service_pb2.RiskLimits(max_order_quantity="5", denied_symbols=["gme"])
            )
        async with running_server(simulator, database) as server:
            limits = (
                await server.client.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())
            ).limits
    assert limits.max_order_quantity == "5"
    assert list(limits.denied_symbols) == ["GME"]
    assert limits.market_orders_allowed


async def trading_state(server: RunningServer, account: str = "") -> risk_service_pb2.TradingState:
    request = risk_service_pb2.GetTradingStateRequest(account=account)
    return (await server.client.risk.GetTradingState(request)).state


async def test_the_kill_switch_halts_orders_but_not_cancels(risky: RunningServer) -> None:
    async with risky.client_as(Role.TRADER) as trader:
        working = await accepted(trader, order(limit="90", key="before-halt", validate_only=False))
        response = await risky.client.risk.HaltTrading(
            risk_service_pb2.HaltTradingRequest(reason="end of test day")
        )
        assert response.state.halted
        assert response.state.cause == risk_service_pb2.HALT_CAUSE_MANUAL
        assert response.state.halted_by == "test-admin"
        error = await refused(trader, order(limit="90", key="during-halt", validate_only=False))
        assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TRADING_HALTED")
        await trader.orders.CancelOrder(
            order_service_pb2.CancelOrderRequest(order_id=working.order.order_id)
        )
        await risky.client.risk.ResumeTrading(risk_service_pb2.ResumeTradingRequest(reason="ready"))
        await accepted(trader, order(limit="90", key="after-resume", validate_only=False))
    entries = await AuditStore(risky.database).recent()
    actions = [(entry.action, entry.subject) for entry in entries]
    assert ("HaltTrading", "test-admin") in actions
    assert ("ResumeTrading", "test-admin") in actions


async def test_a_halt_can_cancel_every_working_order(risky: RunningServer) -> None:
    placed = await accepted(risky.client, order(limit="90", key="to-cancel", validate_only=False))
    response = await risky.client.risk.HaltTrading(
        risk_service_pb2.HaltTradingRequest(reason="panic", cancel_working_orders=True)
    )
    assert list(response.cancelled_order_ids) == [placed.order.order_id]


async def test_a_daily_loss_trips_the_breaker_until_an_admin_resumes(risky: RunningServer) -> None:
    await set_limits(risky, risk_service_pb2.RiskLimits(daily_loss_limit="500"), "daily_loss_limit")
    await accepted(
        risky.client,
        order(
            "100",
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
            key="big-buy",
            validate_only=False,
        ),
    )
    risky.simulator.set_price("AAPL", PRICE * 0.9)

    async def halted() -> bool:
        return (await trading_state(risky, ACCOUNT)).halted

    await eventually(halted, within=10, message="the loss never tripped the breaker")
    state = await trading_state(risky, ACCOUNT)
    assert (state.cause, state.halted_by, state.account) == (
        risk_service_pb2.HALT_CAUSE_DAILY_LOSS,
        "circuit-breaker",
        ACCOUNT,
    )
    # The breaker halts the account that lost, not every account.
    assert not (await trading_state(risky)).halted
    error = await refused(risky.client, order(limit="80", key="blocked", validate_only=False))
    assert (error.reason, error.metadata["account"]) == ("TRADING_HALTED", ACCOUNT)
    await set_limits(
        risky, risk_service_pb2.RiskLimits(daily_loss_limit="5000"), "daily_loss_limit"
    )
    await risky.client.risk.ResumeTrading(
        risk_service_pb2.ResumeTradingRequest(reason="limit raised", account=ACCOUNT)
    )
    await accepted(risky.client, order(limit="80", key="after-loss", validate_only=False))
    entries = await AuditStore(risky.database).recent()
    assert any(e.subject == "circuit-breaker" and e.target == "DAILY_LOSS" for e in entries)


async def test_ib_rejections_trip_the_breaker(risky: RunningServer) -> None:
    limits = risk_service_pb2.RiskLimits(
        max_rejections=2, rejection_window=duration_pb2.Duration(seconds=60)
    )
    await set_limits(risky, limits, "max_rejections", "rejection_window")
    for index in range(2):
        risky.simulator.reject_next_order("no trading permissions")
        error = await refused(
            risky.client, order(limit="90", key=f"rejected-{index}", validate_only=False)
        )
        assert error.reason == "IB_ORDER_REJECTED"

    async def halted() -> bool:
        return (await trading_state(risky)).halted

    await eventually(halted, message="two IB rejections did not trip the breaker")
    assert (await trading_state(risky)).cause == risk_service_pb2.HALT_CAUSE_REJECTIONS


async def test_a_flapping_gateway_trips_the_breaker(risky: RunningServer) -> None:
    limits = risk_service_pb2.RiskLimits(
        max_disconnects=2, disconnect_window=duration_pb2.Duration(seconds=60)
    )
    await set_limits(risky, limits, "max_disconnects", "disconnect_window")
    for _ in range(2):
        await risky.simulator.drop_connections()
        await risky.wait_until_ready()

    async def halted() -> bool:
        return (await trading_state(risky)).halted

    await eventually(halted, message="two disconnects did not trip the breaker")
    assert (await trading_state(risky)).cause == risk_service_pb2.HALT_CAUSE_GATEWAY_FLAPPING


async def test_bad_limits_get_field_violations(risky: RunningServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_limits(
            risky,
            risk_service_pb2.RiskLimits(max_order_quantity="-1"),
            "max_order_quantity",
            "nonsense",
        )
    error = ApiError.from_rpc_error(raised.value)
    assert {v.field for v in error.field_violations} == {"update_mask", "limits.max_order_quantity"}


async def read_limits(server: RunningServer) -> risk_service_pb2.RiskLimits:
    return (await server.client.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())).limits


async def test_an_empty_update_changes_nothing_and_a_star_replaces_everything(
    risky: RunningServer,
) -> None:
    start = risk_service_pb2.RiskLimits(
        max_order_quantity="5", max_open_orders=3, denied_symbols=["GME"]
    )
    await set_limits(risky, start)
    # PATCH /v1/risk/limits with {}: no mask, nothing set.
    await risky.client.risk.UpdateRiskLimits(risk_service_pb2.UpdateRiskLimitsRequest())
    limits = await read_limits(risky)
    assert (limits.max_order_quantity, limits.max_open_orders) == ("5", 3)
    assert list(limits.denied_symbols) == ["GME"]
    # No mask: only the fields set in the request change.
    await set_limits(risky, risk_service_pb2.RiskLimits(max_order_notional="1000"))
    limits = await read_limits(risky)
    assert (limits.max_order_quantity, limits.max_order_notional) == ("5", "1000")
    # "*": every field, an unset one removing its limit.
    await set_limits(risky, risk_service_pb2.RiskLimits(max_order_quantity="7"), "*")
    limits = await read_limits(risky)
    assert (limits.max_order_quantity, limits.max_order_notional) == ("7", "")
    assert not limits.HasField("max_open_orders")
    assert list(limits.denied_symbols) == []
    assert limits.market_orders_allowed


BAD_LIMITS = [
    (risk_service_pb2.RiskLimits(max_open_orders=0), ["max_open_orders"], "limits.max_open_orders"),
    (risk_service_pb2.RiskLimits(max_orders_per_minute=1_000_001), [], "limits.max_orders_per_minute"),
    (risk_service_pb2.RiskLimits(max_rejections=-1), [], "limits.max_rejections"),
    (risk_service_pb2.RiskLimits(rejection_window=duration_pb2.Duration(seconds=0)), [], "limits.rejection_window"),
    (risk_service_pb2.RiskLimits(disconnect_window=duration_pb2.Duration(seconds=8 * 86400)), [], "limits.disconnect_window"),
    (risk_service_pb2.RiskLimits(price_collar_percent="100.01"), [], "limits.price_collar_percent"),
    (risk_service_pb2.RiskLimits(price_collar_percent="0"), ["price_collar_percent"], "limits.price_collar_percent"),
    (risk_service_pb2.RiskLimits(daily_loss_limit="-5"), [], "limits.daily_loss_limit"),
    (risk_service_pb2.RiskLimits(denied_symbols=[" "]), [], "limits.denied_symbols"),
    (risk_service_pb2.RiskLimits(), ["max_order_quantity", "limits.max_order_quantity"], "update_mask"),
    (risk_service_pb2.RiskLimits(), ["*", "max_order_quantity"], "update_mask"),
]  # fmt: skip


@pytest.mark.parametrize(("limits", "mask", "field"), BAD_LIMITS)
async def test_limits_out_of_bounds_get_a_field_violation_and_change_nothing(
    risky: RunningServer, limits: risk_service_pb2.RiskLimits, mask: list[str], field: str
) -> None:
    await set_limits(risky, risk_service_pb2.RiskLimits(max_order_quantity="5"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await set_limits(risky, limits, *mask)
    error = ApiError.from_rpc_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_ERROR")
    assert [v.field for v in error.field_violations] == [field]
    assert (await read_limits(risky)).max_order_quantity == "5"


async def test_the_largest_bounds_are_accepted(risky: RunningServer) -> None:
    limits = risk_service_pb2.RiskLimits(
        max_open_orders=1,
        max_orders_per_minute=1_000_000,
        price_collar_percent="100",
        rejection_window=duration_pb2.Duration(seconds=1),
        disconnect_window=duration_pb2.Duration(seconds=7 * 86400),
    )
    await set_limits(risky, limits)
    assert (await read_limits(risky)).max_orders_per_minute == 1_000_000


async def test_an_admin_scoped_to_an_account_may_not_change_limits(risky: RunningServer) -> None:
    async with risky.client_as(Role.ADMIN, "desk-admin", frozenset({ACCOUNT})) as admin:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.risk.UpdateRiskLimits(
                risk_service_pb2.UpdateRiskLimitsRequest(
                    limits=risk_service_pb2.RiskLimits(max_order_quantity="1")
                )
            )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await read_limits(risky)).max_order_quantity == ""


async def test_concurrent_orders_count_each_other_against_the_position_limit(
    risky: RunningServer,
) -> None:
    """Six BUY 10 at once against a position limit of 20: two are accepted."""
    await set_limits(risky, risk_service_pb2.RiskLimits(max_position_quantity="20"))
    async with risky.client_as(Role.TRADER) as trader:
        outcomes = await asyncio.gather(
            *(
                trader.orders.PlaceOrder(
                    order("10", limit="90", key=f"burst-{index}", validate_only=False)
                )
                for index in range(6)
            ),
            return_exceptions=True,
        )
    accepted_orders = [o for o in outcomes if isinstance(o, order_service_pb2.PlaceOrderResponse)]
    refusals = [ApiError.from_rpc_error(o) for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(accepted_orders) == 2
    assert [r.reason for r in refusals] == ["POSITION_LIMIT_EXCEEDED"] * 4


def bracket_order(take_profit: str) -> order_service_pb2.PlaceOrderRequest:
    request = order("10", limit="100")
    request.take_profit.limit_price = take_profit
    request.stop_loss.stop_price = "99"
    return request


async def test_bracket_legs_pass_the_notional_limit_and_the_collar(risky: RunningServer) -> None:
    await set_limits(
        risky, risk_service_pb2.RiskLimits(max_order_notional="1050", price_collar_percent="5")
    )
    async with risky.client_as(Role.TRADER) as trader:
        await accepted(trader, bracket_order("105"))
        error = await refused(trader, bracket_order("105.01"))
        assert error.precondition_violations[0].subject == "max_order_notional"
        await set_limits(risky, risk_service_pb2.RiskLimits(), "max_order_notional")
        error = await refused(trader, bracket_order("105.01"))
        assert error.precondition_violations[0].subject == "price_collar_percent"


async def test_a_modification_passes_the_risk_rules(risky: RunningServer) -> None:
    async with risky.client_as(Role.TRADER) as trader:
        placed = await accepted(
            trader, order("5", limit="90", key="to-modify", validate_only=False)
        )
        await set_limits(risky, risk_service_pb2.RiskLimits(max_order_quantity="10"))
        order_id = placed.order.order_id
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await trader.orders.ModifyOrder(
                order_service_pb2.ModifyOrderRequest(order_id=order_id, quantity="11")
            )
        assert ApiError.from_rpc_error(raised.value).reason == "ORDER_SIZE_LIMIT_EXCEEDED"
        modified = await trader.orders.ModifyOrder(
            order_service_pb2.ModifyOrderRequest(order_id=order_id, quantity="10")
        )
    assert modified.order.quantity == "10"
