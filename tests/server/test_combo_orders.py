"""Multi-leg (combination) orders end to end: generated stubs -> real server -> simulated
gateway. An iron condor on a simulated stock is placed as one order, fills as one, and leaves
four option positions; the order's events are gapless, a retry is idempotent, and the risk
checks refuse what they must.

IB trades a combination as one BAG order whose legs name each instrument by conId, ratio and
action (https://interactivebrokers.github.io/tws-api/spread_contracts.html) and reports an
execution per leg (Execution's cumQty and avgPrice are "used in regular trades, combo trades and
legs of the combo", https://interactivebrokers.github.io/tws-api/classIBApi_1_1Execution.html).
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest
from google.protobuf import field_mask_pb2

from ibkr.v1 import common_pb2, order_service_pb2, portfolio_service_pb2, risk_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.store.database import Database
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, running_server, simulator_config
from tests.support.waiting import eventually

EXPIRY = "20260320"
# Bought, the condor buys the 170 put and the 210 call and sells the 180 put and the 200 call.
CONDOR = ((170.0, "P", common_pb2.SIDE_BUY), (180.0, "P", common_pb2.SIDE_SELL),
          (200.0, "C", common_pb2.SIDE_SELL), (210.0, "C", common_pb2.SIDE_BUY))  # fmt: skip


def option_con_id(simulator: Simulator, strike: float, right: str) -> int:
    [found] = [
        contract.con_id
        for contract in simulator.gateway.universe
        if contract.symbol == "AAPL"
        and contract.sec_type == "OPT"
        and contract.last_trade_date == EXPIRY
        and contract.strike == strike
        and contract.right == right
    ]
    return found


def condor_ask(simulator: Simulator) -> float:
    """The net price of buying the condor now: the offers of the bought legs less the bids of
    the sold ones (negative: it takes in a credit)."""
    total = 0.0
    for strike, right, side in CONDOR:
        quote = simulator.gateway.prices.quote(option_con_id(simulator, strike, right))
        total += quote.ask if side == common_pb2.SIDE_BUY else -quote.bid
    return round(total, 2)


def condor(
    simulator: Simulator, *, key: str, limit: str, quantity: str = "1", validate_only: bool = False
) -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        side=common_pb2.SIDE_BUY,
        quantity=quantity,
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price=limit,
        client_order_id=key,
        validate_only=validate_only,
        legs=[
            order_service_pb2.OrderLeg(
                contract=common_pb2.Contract(con_id=option_con_id(simulator, strike, right)),
                side=side,
                ratio=1,
            )
            for strike, right, side in CONDOR
        ],
    )


async def option_positions(server: RunningServer) -> dict[int, str]:
    response = await server.client.portfolio.ListPositions(
        portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT)
    )
    return {
        position.contract.con_id: position.quantity
        for position in response.positions
        if position.contract.security_type == common_pb2.SECURITY_TYPE_OPTION
    }


async def replayed_events(server: RunningServer) -> list[order_service_pb2.OrderEvent]:
    events: list[order_service_pb2.OrderEvent] = []
    call = server.client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(replay_from_start=True)
    )
    async with asyncio.timeout(10):
        async for message in call:
            if message.HasField("marker"):
                break
            if message.HasField("order_event"):
                events.append(message.order_event)
    call.cancel()
    return events


async def test_an_iron_condor_is_placed_as_one_order_and_fills_as_one(
    server: RunningServer,
) -> None:
    simulator = server.simulator
    simulator.set_price("AAPL", 190.0)
    limit = f"{condor_ask(simulator):.2f}"
    assert float(limit) < 0, "bought for a credit: a negative net price"
    response = await server.client.orders.PlaceOrder(condor(simulator, key="condor-1", limit=limit))
    order = response.order
    assert order.limit_price == limit
    assert [leg.contract.con_id for leg in order.legs] == [
        option_con_id(simulator, strike, right) for strike, right, _ in CONDOR
    ]
    assert all(leg.contract.multiplier == "100" for leg in order.legs)
    assert order.contract.con_id == 28812380
    assert order.contract.symbol == "AAPL"

    async def filled() -> bool:
        current = await server.client.orders.GetOrder(
            order_service_pb2.GetOrderRequest(order_id=order.order_id)
        )
        return current.order.status == order_service_pb2.ORDER_STATUS_FILLED

    await eventually(filled)
    final = await server.client.orders.GetOrder(
        order_service_pb2.GetOrderRequest(order_id=order.order_id)
    )
    assert final.order.filled_quantity == "1"
    assert float(final.order.average_fill_price) == float(limit)
    fills = await server.client.orders.ListFills(
        order_service_pb2.ListFillsRequest(order_id=order.order_id)
    )
    assert sorted(fill.contract.con_id for fill in fills.fills) == sorted(
        leg.contract.con_id for leg in order.legs
    )
    expected = {
        option_con_id(simulator, strike, right): "1" if side == common_pb2.SIDE_BUY else "-1"
        for strike, right, side in CONDOR
    }

    async def four_legs_held() -> bool:
        return await option_positions(server) == expected

    await eventually(four_legs_held)
    events = [e for e in await replayed_events(server) if e.order.order_id == order.order_id]
    sequences = [event.sequence for event in events]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences))), "gapless"
    kinds = [event.type for event in events]
    assert kinds[:2] == [order_service_pb2.ORDER_EVENT_TYPE_CREATED,
                         order_service_pb2.ORDER_EVENT_TYPE_SENT]  # fmt: skip
    assert kinds.count(order_service_pb2.ORDER_EVENT_TYPE_FILL) == 4
    assert all(len(event.order.legs) == 4 for event in events)


async def test_a_retry_with_the_same_key_returns_the_same_combination(
    server: RunningServer,
) -> None:
    simulator = server.simulator
    simulator.set_price("AAPL", 190.0)
    request = condor(simulator, key="condor-retry", limit="-9.00")  # far from the market
    first = await server.client.orders.PlaceOrder(request)
    second = await server.client.orders.PlaceOrder(request)
    assert second.order.order_id == first.order.order_id
    listed = await server.client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
    assert len(listed.orders) == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(condor(simulator, key="condor-retry", limit="-8.00"))
    assert ApiError.from_rpc_error(raised.value).reason == "DUPLICATE_CLIENT_ORDER_ID"


async def refusal(server: RunningServer, request: order_service_pb2.PlaceOrderRequest) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(request)
    return ApiError.from_rpc_error(raised.value)


async def test_risk_checks_the_combination_as_a_whole(server: RunningServer) -> None:
    simulator = server.simulator
    simulator.set_price("AAPL", 190.0)
    # Wings 10 wide at a credit of 1.20: at worst 10 - 1.20 = 8.80 a share, 880 a condor.
    await server.client.risk.UpdateRiskLimits(
        risk_service_pb2.UpdateRiskLimitsRequest(
            limits=risk_service_pb2.RiskLimits(max_order_notional="25000"),
            update_mask=field_mask_pb2.FieldMask(paths=["max_order_notional"]),
        )
    )
    accepted = await server.client.orders.PlaceOrder(
        condor(simulator, key="loss-ok", limit="-1.20", quantity="1", validate_only=True)
    )
    assert accepted.preview.initial_margin_change == "1000", "IB's what-if: the widest wing"
    error = await refusal(server, condor(simulator, key="loss-past", limit="-1.20", quantity="29"))
    assert error.reason == "ORDER_SIZE_LIMIT_EXCEEDED"
    assert error.metadata["requested"] == "25520"
    # Each leg's notional (quantity x 100 x strike) counts against the same limit.
    error = await refusal(server, condor(simulator, key="leg-past", limit="-1.20", quantity="2"))
    assert error.reason == "ORDER_SIZE_LIMIT_EXCEEDED"
    assert error.metadata["requested"] == "34000"  # the first leg: 2 x 100 x 170


async def test_a_short_call_no_leg_covers_is_refused(server: RunningServer) -> None:
    simulator = server.simulator
    simulator.set_price("AAPL", 190.0)
    ratio_spread = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        side=common_pb2.SIDE_BUY,
        quantity="1",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price="-1.00",
        client_order_id="naked",
        legs=[
            order_service_pb2.OrderLeg(
                contract=common_pb2.Contract(con_id=option_con_id(simulator, 190.0, "C")),
                side=common_pb2.SIDE_BUY,
                ratio=1,
            ),
            order_service_pb2.OrderLeg(
                contract=common_pb2.Contract(con_id=option_con_id(simulator, 200.0, "C")),
                side=common_pb2.SIDE_SELL,
                ratio=2,
            ),
        ],
    )
    error = await refusal(server, ratio_spread)
    assert error.reason == "POSITION_LIMIT_EXCEEDED"
    [violation] = error.precondition_violations
    assert violation.subject == "naked_short_options"


async def test_bad_legs_get_field_violations(server: RunningServer) -> None:
    request = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        side=common_pb2.SIDE_BUY,
        quantity="1",
        order_type=order_service_pb2.ORDER_TYPE_STOP,
        stop_price="1",
        legs=[order_service_pb2.OrderLeg(contract=common_pb2.Contract(symbol="AAPL"), ratio=0)],
    )
    error = await refusal(server, request)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = {violation.field for violation in error.field_violations}
    assert {"legs", "legs[0].contract.con_id", "legs[0].side", "legs[0].ratio"} <= fields


async def test_a_condor_needing_more_margin_than_the_account_has_is_refused(
    database: Database,
) -> None:
    """IB's what-if margin of the whole combination against the account's AvailableFunds
    (equity with loan value less initial margin; IB's account value of that name,
    https://interactivebrokers.github.io/tws-api/interfaceIBApi_1_1EWrapper.html). The
    simulator's what-if of a condor is its widest wing, 10 x 100 = 1,000 a condor, and its
    account starts here with 5,000 in cash: four condors pass, six are refused before IB sees
    them (IB itself would have made the order Inactive)."""
    async with (
        Simulator(simulator_config(starting_cash=5_000.0)) as simulator,
        running_server(simulator, database) as server,
    ):
        simulator.set_price("AAPL", 190.0)
        previewed = await server.client.orders.PlaceOrder(
            condor(simulator, key="margin-preview", limit="-1.20", quantity="6", validate_only=True)
        )
        assert previewed.preview.initial_margin_change == "6000"
        error = await refusal(
            server, condor(simulator, key="margin-past", limit="-9.00", quantity="6")
        )
        assert (error.reason, error.code) == (
            "INSUFFICIENT_FUNDS",
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert (error.metadata["required"], error.metadata["available"]) == ("6000.00", "5000.00")
        listed = await server.client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
        assert list(listed.orders) == []
        placed = await server.client.orders.PlaceOrder(
            condor(simulator, key="margin-ok", limit="-9.00", quantity="4")
        )
        assert placed.order.status != order_service_pb2.ORDER_STATUS_REJECTED
        assert placed.order.quantity == "4"


async def condor_unrealized_pnl(server: RunningServer, con_ids: set[int]) -> float | None:
    """The four legs' unrealized PnL in money (IB's, x100 multiplier included), once all four
    report one."""
    response = await server.client.portfolio.ListPositions(
        portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT)
    )
    legs = [p for p in response.positions if p.contract.con_id in con_ids]
    if len(legs) != len(con_ids) or any(not leg.unrealized_pnl for leg in legs):
        return None
    assert all(leg.multiplier == "100" for leg in legs)
    return sum(float(leg.unrealized_pnl) for leg in legs)


async def test_the_condor_s_pnl_moves_with_the_underlying(server: RunningServer) -> None:
    """A short iron condor gains while the stock stays between its short strikes and loses when
    it runs through a wing: its legs' unrealized PnL (IB's portfolio updates, quantity x price x
    multiplier) follows the underlying's price through the options' prices."""
    simulator = server.simulator
    simulator.set_price("AAPL", 190.0)
    limit = f"{condor_ask(simulator):.2f}"
    placed = await server.client.orders.PlaceOrder(condor(simulator, key="condor-pnl", limit=limit))
    con_ids = {leg.contract.con_id for leg in placed.order.legs}

    async def held() -> bool:
        return await condor_unrealized_pnl(server, con_ids) is not None

    await eventually(held, within=20, message="the condor's legs were not all reported")
    simulator.set_price("AAPL", 215.0)  # past the 210 call wing: about the largest loss

    async def lost() -> bool:
        pnl = await condor_unrealized_pnl(server, con_ids)
        # The largest loss is the wing's width less the credit taken in: about (10 - 1.2) x 100.
        return pnl is not None and pnl < -500

    await eventually(lost, within=30, message="the condor's PnL did not follow AAPL up to 215")
    simulator.set_price("AAPL", 190.0)

    async def recovered() -> bool:
        pnl = await condor_unrealized_pnl(server, con_ids)
        return pnl is not None and pnl > -200

    await eventually(recovered, within=30, message="the condor's PnL did not come back with AAPL")
