"""Orders that IB fills in several executions: the simulated gateway shows only the sizes its
book displays, as a real market does, so a large order walks the book.

IB reports each execution on its own ("When an order is filled either fully or partially, the
IBApi.EWrapper.execDetails and IBApi.EWrapper.commissionReport events will deliver
IBApi.Execution and IBApi.CommissionReport objects",
https://interactivebrokers.github.io/tws-api/executions_commissions.html).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibkr.v1 import common_pb2, order_service_pb2
from ibkr_simulator.config import FillPolicy
from tests.server.conftest import ACCOUNT, RunningServer
from tests.server.test_orders import AAPL, order_status
from tests.support.waiting import eventually

FILLED = order_service_pb2.ORDER_STATUS_FILLED
CANCELLED = order_service_pb2.ORDER_STATUS_CANCELLED


async def _fills(server: RunningServer, order_id: str) -> list[order_service_pb2.Fill]:
    response = await server.client.orders.ListFills(
        order_service_pb2.ListFillsRequest(order_id=order_id, page_size=50)
    )
    return sorted(response.fills, key=lambda fill: Decimal(fill.cumulative_quantity))


async def test_a_market_order_beyond_the_touch_fills_in_several_executions(
    server: RunningServer,
) -> None:
    quote = server.simulator.quote("AAPL")
    quantity = int(quote.ask_size) * 2 + 50
    placed = await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            contract=AAPL,
            side=common_pb2.SIDE_BUY,
            quantity=str(quantity),
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
            client_order_id="sweep-1",
        )
    )
    order_id = placed.order.order_id

    async def filled_with_every_execution() -> bool:
        fills = await _fills(server, order_id)
        return await order_status(server, order_id) == FILLED and len(fills) == 3

    await eventually(filled_with_every_execution, message="the sweep never settled")
    fills = await _fills(server, order_id)
    assert len({fill.execution_id for fill in fills}) == 3
    prices = [Decimal(fill.price) for fill in fills]
    assert prices == sorted(prices)
    assert prices[0] == Decimal(str(quote.ask)) < prices[-1]
    assert [Decimal(fill.cumulative_quantity) for fill in fills][-1] == quantity
    value = sum(Decimal(fill.quantity) * Decimal(fill.price) for fill in fills)
    order = (
        await server.client.orders.GetOrder(order_service_pb2.GetOrderRequest(order_id=order_id))
    ).order
    assert Decimal(order.filled_quantity) == quantity
    assert Decimal(order.average_fill_price) == pytest.approx(value / quantity)


async def test_a_partly_filled_take_profit_leaves_the_stop_for_the_rest(
    server: RunningServer,
) -> None:
    server.simulator.gateway.orders.set_fill_policy(
        FillPolicy(partial_fill_quantity=100, liquidity="unlimited")
    )
    ask = float(server.simulator.quote("AAPL").ask)
    placed = await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            contract=AAPL,
            side=common_pb2.SIDE_BUY,
            quantity="300",
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
            take_profit=order_service_pb2.TakeProfitLeg(limit_price=f"{ask + 2:.2f}"),
            stop_loss=order_service_pb2.StopLossLeg(stop_price=f"{ask - 5:.2f}"),
            client_order_id="bracket-partial",
        )
    )
    parent = placed.order
    take_profit, stop_loss = placed.bracket_orders

    async def parent_filled() -> bool:
        return await order_status(server, parent.order_id) == FILLED

    for _ in range(3):
        await server.simulator.step()
    await eventually(parent_filled, message="the bracket's entry never filled")

    server.simulator.set_price("AAPL", ask + 4)  # the take-profit sells 100 of 300
    await eventually(lambda: len(server.simulator.gateway.orders.executions()) == 4)
    server.simulator.set_price("AAPL", ask - 6)  # the stop triggers and sells the rest
    server.simulator.set_price("AAPL", ask - 6)

    async def exits_settled() -> bool:
        return (
            await order_status(server, take_profit.order_id) == CANCELLED
            and await order_status(server, stop_loss.order_id) == FILLED
        )

    await eventually(exits_settled, message="the stop did not sell what the take-profit left")
    stop = (
        await server.client.orders.GetOrder(
            order_service_pb2.GetOrderRequest(order_id=stop_loss.order_id)
        )
    ).order
    # IB reduced the stop to what the take-profit left (an openOrder with the new size); the
    # server keeps IB's terms.
    assert (stop.quantity, stop.filled_quantity) == ("200", "200")
    apple = server.simulator.contract("AAPL")
    position = server.simulator.gateway.accounts.position(ACCOUNT, apple.con_id)
    assert position is not None
    assert position.quantity == 0
