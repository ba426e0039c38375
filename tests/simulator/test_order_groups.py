"""Brackets (parentId/transmit) and OCA groups."""

from __future__ import annotations

from ib_async import IB, Contract, LimitOrder, Stock

from ibkr_simulator import Simulator
from tests.simulator.support import connected, eventually


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
