"""Brackets (parentId/transmit) and OCA groups."""

from __future__ import annotations

import pytest
from ib_async import IB, Contract, LimitOrder, Stock, Trade

from ibkr_simulator import FillPolicy, Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


async def _contract(ib: IB, symbol: str = "AAPL") -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


async def test_bracket_children_wait_for_the_transmitting_leg_and_the_parent_fill(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        parent, take_profit, stop_loss = ib.bracketOrder("BUY", 10, 185.0, 200.0, 180.0)
        parent_trade = ib.placeOrder(contract, parent)
        profit_trade = ib.placeOrder(contract, take_profit)
        # The gateway holds legs with transmit=0: nothing is acknowledged yet.
        await ib.reqCurrentTimeAsync()
        assert parent_trade.orderStatus.status == profit_trade.orderStatus.status == "PendingSubmit"
        loss_trade = ib.placeOrder(contract, stop_loss)
        await eventually(lambda: loss_trade.orderStatus.status == "PreSubmitted")
        assert parent_trade.orderStatus.status == "Submitted"
        assert profit_trade.orderStatus.status == "PreSubmitted"
        assert profit_trade.orderStatus.parentId == parent_trade.order.orderId

        simulator.set_price("AAPL", 184.0)
        await eventually(lambda: parent_trade.orderStatus.status == "Filled")
        await eventually(lambda: profit_trade.orderStatus.status == "Submitted")
        assert loss_trade.orderStatus.status == "PreSubmitted"  # a stop waits for its trigger
        assert profit_trade.fills == loss_trade.fills == []

        simulator.set_price("AAPL", 201.0)
        await eventually(lambda: profit_trade.orderStatus.status == "Filled")
        await eventually(lambda: loss_trade.orderStatus.status == "Cancelled")
        positions = await ib.reqPositionsAsync()
        assert [position.position for position in positions] == [0]


async def test_cancelling_a_bracket_parent_cancels_its_children(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        trades = [
            ib.placeOrder(contract, order) for order in ib.bracketOrder("BUY", 1, 150, 250, 140)
        ]
        await eventually(lambda: trades[2].orderStatus.status == "PreSubmitted")
        ib.cancelOrder(trades[0].order)
        await eventually(lambda: all(trade.orderStatus.status == "Cancelled" for trade in trades))


async def test_an_oca_fill_cancels_the_rest_of_the_group(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        apple = await _contract(ib, "AAPL")
        microsoft = await _contract(ib, "MSFT")
        first = LimitOrder("BUY", 1, 185.0, ocaGroup="pick-one", ocaType=1)
        second = LimitOrder("BUY", 1, 400.0, ocaGroup="pick-one", ocaType=1)
        first_trade = ib.placeOrder(apple, first)
        second_trade = ib.placeOrder(microsoft, second)
        await eventually(lambda: second_trade.orderStatus.status == "Submitted")
        simulator.set_price("MSFT", 399.0)
        await eventually(lambda: second_trade.orderStatus.status == "Filled")
        await eventually(lambda: first_trade.orderStatus.status == "Cancelled")
        assert first_trade.fills == []


# Partial fills in OCA groups -----------------------------------------------------------------
#
# IB's Order.ocaType (TWS API reference, https://interactivebrokers.github.io/tws-api/oca.html):
# "Tells how to handle remaining orders in an OCA group when one order or part of an order
# executes. 1 = Cancel all remaining orders with block. 2 = Remaining orders are proportionately
# reduced in size with block. 3 = Remaining orders are proportionately reduced in size with no
# block. If you use a value 'with block' it gives the order overfill protection. This means that
# only one order in the group will be routed at a time to remove the possibility of an overfill."


def _hundred_a_step() -> SimulatorConfig:
    """Executions of exactly 100 per order per step, whatever the book shows."""
    fills = FillPolicy(partial_fill_quantity=100, liquidity="unlimited")
    return SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, fills=fills)


async def _open_orders_seen_by_another_client(simulator: Simulator) -> list[Trade]:
    async with connected(simulator, client_id=9) as other:
        return list(await other.reqAllOpenOrdersAsync())


async def test_a_bracket_partly_taken_profit_leaves_a_stop_for_the_rest() -> None:
    # Issue #13's case: the take-profit filled 100 of 300, then the stop sold the full 300 and
    # the bracket ended short 100. IB reduces the stop to the 200 still held.
    async with Simulator(_hundred_a_step()) as simulator, connected(simulator) as ib:
        contract = await _contract(ib)
        parent, take_profit, stop_loss = ib.bracketOrder("BUY", 300, 185.0, 200.0, 180.0)
        trades = [ib.placeOrder(contract, order) for order in (parent, take_profit, stop_loss)]
        parent_trade, profit_trade, loss_trade = trades
        await eventually(lambda: loss_trade.orderStatus.status == "PreSubmitted")
        for _ in range(3):
            simulator.set_price("AAPL", 184.0)
        await eventually(lambda: parent_trade.orderStatus.status == "Filled")

        simulator.set_price("AAPL", 201.0)
        await eventually(lambda: profit_trade.orderStatus.filled == 100)
        await eventually(lambda: loss_trade.orderStatus.remaining == 200)
        assert loss_trade.order.totalQuantity == 200  # openOrder carried the new size
        assert profit_trade.orderStatus.status == "Submitted"

        simulator.set_price("AAPL", 179.0)  # the stop triggers and sells 100
        await eventually(lambda: loss_trade.orderStatus.filled == 100)
        await eventually(lambda: profit_trade.orderStatus.remaining == 100)
        simulator.set_price("AAPL", 179.0)
        await eventually(lambda: loss_trade.orderStatus.status == "Filled")
        await eventually(lambda: profit_trade.orderStatus.status == "Cancelled")
        assert (profit_trade.orderStatus.filled, loss_trade.orderStatus.filled) == (100, 200)
        positions = await ib.reqPositionsAsync()
        assert [position.position for position in positions] == [0]


async def test_bracket_children_are_an_oca_group_named_by_the_parent(
    simulator: Simulator,
) -> None:
    # A published ib_insync log of a real gateway shows a bracket's stop child with
    # ocaGroup='1938982781' (its parent's permId) and ocaType=3 though the client set neither.
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        trades = [
            ib.placeOrder(contract, order) for order in ib.bracketOrder("BUY", 1, 150, 250, 140)
        ]
        await eventually(lambda: trades[2].orderStatus.status == "PreSubmitted")
        seen = {
            trade.order.permId: trade.order
            for trade in await _open_orders_seen_by_another_client(simulator)
        }
        parent_perm_id = trades[0].order.permId
        assert seen[parent_perm_id].ocaGroup == ""
        for child in trades[1:]:
            assert (seen[child.order.permId].ocaGroup, seen[child.order.permId].ocaType) == (
                str(parent_perm_id),
                3,
            )


@pytest.mark.parametrize(
    ("oca_type", "other_status", "other_quantity"),
    [(1, "Cancelled", 300), (2, "Submitted", 200), (3, "Submitted", 200)],
)
async def test_a_partial_fill_cancels_or_reduces_the_rest_by_oca_type(
    oca_type: int, other_status: str, other_quantity: float
) -> None:
    async with Simulator(_hundred_a_step()) as simulator, connected(simulator) as ib:
        apple = await _contract(ib, "AAPL")
        microsoft = await _contract(ib, "MSFT")
        group = f"type-{oca_type}"
        first = ib.placeOrder(
            apple, LimitOrder("BUY", 300, 185.0, ocaGroup=group, ocaType=oca_type)
        )
        other = ib.placeOrder(
            microsoft, LimitOrder("BUY", 300, 400.0, ocaGroup=group, ocaType=oca_type)
        )
        await eventually(lambda: other.orderStatus.status == "Submitted")
        simulator.set_price("AAPL", 184.0)
        await eventually(lambda: first.orderStatus.filled == 100)
        await eventually(lambda: other.orderStatus.status == other_status)
        assert other.order.totalQuantity == other_quantity
        assert first.orderStatus.status == "Submitted"  # the executing order keeps working
        simulator.set_price("AAPL", 184.0)
        simulator.set_price("AAPL", 184.0)
        await eventually(lambda: first.orderStatus.status == "Filled")
        await eventually(lambda: other.orderStatus.status == "Cancelled")
        assert other.fills == []


@pytest.mark.parametrize(("oca_type", "filled"), [(2, [10, 0]), (3, [10, 10])])
async def test_without_block_two_members_can_fill_in_one_step(
    oca_type: int, filled: list[float]
) -> None:
    # Both orders become marketable on the same price step. With block only one is routed at
    # a time and the other is cancelled before it can execute; without block both execute,
    # which is the overfill IB warns about.
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, fills=FillPolicy(liquidity="unlimited")
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        contract = await _contract(ib)
        group = f"race-{oca_type}"
        trades = [
            ib.placeOrder(contract, LimitOrder("BUY", 10, limit, ocaGroup=group, ocaType=oca_type))
            for limit in (185.0, 184.5)
        ]
        await eventually(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
        simulator.set_price("AAPL", 180.0)
        await eventually(lambda: all(trade.isDone() for trade in trades))
        assert [trade.orderStatus.filled for trade in trades] == filled


async def test_a_client_cancel_takes_the_group_with_it_a_system_cancel_does_not(
    simulator: Simulator,
) -> None:
    # IB's glossary: "If an order is canceled by the client before execution, all remaining
    # orders in the OCA group will automatically be canceled, but if one of the orders is
    # rejected or canceled by the system, the remaining order(s) WILL NOT automatically be
    # canceled." (https://www.interactivebrokers.com/campus/glossary-terms/one-cancels-all-oca-order/)
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        cancelled, follower = (
            ib.placeOrder(contract, LimitOrder("BUY", 1, limit, ocaGroup="by-client", ocaType=1))
            for limit in (150.0, 151.0)
        )
        expiring = ib.placeOrder(
            contract, LimitOrder("BUY", 1, 152.0, ocaGroup="by-system", ocaType=1, tif="DAY")
        )
        survivor = ib.placeOrder(
            contract, LimitOrder("BUY", 1, 153.0, ocaGroup="by-system", ocaType=1, tif="GTC")
        )
        await eventually(lambda: survivor.orderStatus.status == "Submitted")
        ib.cancelOrder(cancelled.order)
        await eventually(lambda: follower.orderStatus.status == "Cancelled")
        simulator.expire_day_orders()
        await eventually(lambda: expiring.orderStatus.status == "Cancelled")
        await ib.reqCurrentTimeAsync()
        assert survivor.orderStatus.status == "Submitted"
