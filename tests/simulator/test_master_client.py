"""The Master API client ID: one client hears about the orders and fills of every other client.

IB: "if the client is set as the Master client, it will automatically receive order status and
trade callbacks from orders placed from other clients"
(https://interactivebrokers.github.io/tws-api/order_submission.html), and "To receive
commissions reports for all clients it is necessary to connect as the Master Client ID."
(https://interactivebrokers.github.io/tws-api/executions_commissions.html).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from ib_async import IB, Contract, LimitOrder, Stock

from ibkr_simulator import Simulator, SimulatorConfig
from ibkr_simulator.command_line import build_parser, config_from_arguments
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING

MASTER = 10
OWNER = 20
BYSTANDER = 30

# (clientId, orderId, permId): how every message names an order.
OrderName = tuple[int, int, int]


@dataclass
class HeardEvents:
    """Every order event one ib_async client raised, reduced to what identifies it."""

    opened: list[tuple[OrderName, float]] = field(default_factory=list)
    statuses: list[tuple[OrderName, str]] = field(default_factory=list)
    executions: list[tuple[OrderName, str]] = field(default_factory=list)
    commissions: list[tuple[int, str, float]] = field(default_factory=list)
    errors: list[tuple[int, int]] = field(default_factory=list)

    def order_events(self) -> list[object]:
        return [*self.opened, *self.statuses, *self.executions, *self.commissions]


def listen(ib: IB) -> HeardEvents:
    heard = HeardEvents()
    ib.openOrderEvent += lambda trade: heard.opened.append(
        ((trade.order.clientId, trade.order.orderId, trade.order.permId), trade.order.lmtPrice)
    )
    ib.orderStatusEvent += lambda trade: heard.statuses.append(
        (
            (trade.orderStatus.clientId, trade.order.orderId, trade.orderStatus.permId),
            trade.orderStatus.status,
        )
    )
    ib.execDetailsEvent += lambda _trade, fill: heard.executions.append(
        (
            (fill.execution.clientId, fill.execution.orderId, fill.execution.permId),
            fill.execution.execId,
        )
    )
    ib.commissionReportEvent += lambda trade, fill, report: heard.commissions.append(
        (trade.order.permId, fill.execution.execId, report.commission)
    )
    ib.errorEvent += lambda request, code, _text, _contract: heard.errors.append((request, code))
    return heard


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A simulator whose Master API client ID is MASTER, with its clock stopped."""
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, master_client_id=MASTER
    )
    async with Simulator(config) as running:
        yield running


async def _aapl(ib: IB) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


async def test_the_master_hears_every_event_of_another_clients_order(
    simulator: Simulator,
) -> None:
    async with (
        connected(simulator, MASTER) as master,
        connected(simulator, OWNER) as owner,
        connected(simulator, BYSTANDER) as bystander,
    ):
        heard = listen(master)
        not_heard = listen(bystander)
        contract = await _aapl(owner)
        trade = owner.placeOrder(contract, LimitOrder("BUY", 10, 180.0, orderRef="elsewhere"))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        order = (OWNER, trade.order.orderId, trade.order.permId)
        assert trade.order.permId > 0
        await eventually(lambda: (order, "Submitted") in heard.statuses)
        assert heard.opened == [(order, 180.0)]

        # A modification reaches the master as openOrder and orderStatus with the new terms.
        trade.order.lmtPrice = 185.0
        owner.placeOrder(contract, trade.order)
        await eventually(lambda: (order, 185.0) in heard.opened)

        simulator.set_price("AAPL", 184.5)
        await eventually(lambda: len(heard.commissions) == 1)
        [fill] = trade.fills
        execution_id = fill.execution.execId
        assert heard.executions == [(order, execution_id)]
        assert heard.commissions == [
            (trade.order.permId, execution_id, fill.commissionReport.commission)
        ]
        assert heard.statuses[-1] == (order, "Filled")
        assert {status for _, status in heard.statuses} == {"Submitted", "Filled"}
        assert heard.errors == []
        # ib_async keeps it as the owner's order, under the owner's client id and order id.
        [seen] = [found for found in master.trades() if found.order.permId == trade.order.permId]
        assert (seen.order.clientId, seen.order.orderId) == (OWNER, trade.order.orderId)
        assert seen.order.orderRef == "elsewhere"
        assert seen.orderStatus.filled == 10
        assert seen.fills[0].commissionReport.commission == fill.commissionReport.commission

        # A round trip after the fill: anything addressed to the bystander has arrived by now.
        await bystander.reqCurrentTimeAsync()
        assert not_heard.order_events() == []
        assert bystander.trades() == []
        assert bystander.fills() == []


async def test_without_a_master_nobody_hears_another_clients_orders() -> None:
    async with (
        Simulator(SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)) as simulator,
        connected(simulator, MASTER) as would_be_master,
        connected(simulator, OWNER) as owner,
    ):
        not_heard = listen(would_be_master)
        trade = owner.placeOrder(await _aapl(owner), LimitOrder("BUY", 10, 185.0))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        simulator.set_price("AAPL", 184.5)
        await eventually(lambda: bool(trade.fills) and trade.fills[0].commissionReport.commission)
        await would_be_master.reqCurrentTimeAsync()
        assert not_heard.order_events() == []


async def test_errors_about_an_order_reach_only_the_client_that_placed_it(
    simulator: Simulator,
) -> None:
    """IB sends an error to the client whose request it answers; its order id is that client's.

    The master's own order uses the same order id as the other client's: were error 202 for
    the other client's cancel delivered to the master, ib_async would cancel the master's order.
    """
    async with (
        connected(simulator, MASTER) as master,
        connected(simulator, OWNER) as owner,
    ):
        heard = listen(master)
        owner_heard = listen(owner)
        contract = await _aapl(owner)
        shared_order_id = 500
        own = LimitOrder("BUY", 1, 150.0)
        own.orderId = shared_order_id
        own_trade = master.placeOrder(contract, own)
        foreign = LimitOrder("BUY", 1, 151.0)
        foreign.orderId = shared_order_id
        foreign_trade = owner.placeOrder(contract, foreign)
        await eventually(
            lambda: own_trade.orderStatus.status == foreign_trade.orderStatus.status == "Submitted"
        )
        foreign_order = (OWNER, shared_order_id, foreign_trade.order.permId)
        await eventually(lambda: (foreign_order, "Submitted") in heard.statuses)

        owner.cancelOrder(foreign_trade.order)
        await eventually(lambda: (shared_order_id, 202) in owner_heard.errors)
        await eventually(lambda: (foreign_order, "Cancelled") in heard.statuses)

        # A new order the gateway rejects is never an order: the master hears nothing of it.
        simulator.reject_next_order("Simulated rejection")
        rejected = owner.placeOrder(contract, LimitOrder("BUY", 1, 152.0))
        await eventually(lambda: (rejected.order.orderId, 201) in owner_heard.errors)
        await master.reqCurrentTimeAsync()
        assert heard.errors == []
        assert rejected.order.orderId not in {order[1] for order, _ in heard.opened}
        assert own_trade.orderStatus.status == "Submitted"


async def test_all_open_orders_lists_other_clients_working_orders(simulator: Simulator) -> None:
    """reqAllOpenOrders: "request the open orders placed from all clients and also from TWS ...
    No association is made between the returned orders and the requesting client"
    (https://interactivebrokers.github.io/tws-api/classIBApi_1_1EClient.html); reqOpenOrders
    stays with the requesting client's own orders, for the master too.
    """
    async with (
        connected(simulator, OWNER) as owner,
        connected(simulator, BYSTANDER) as bystander,
    ):
        contract = await _aapl(owner)
        resting = [
            owner.placeOrder(contract, LimitOrder("BUY", 1, 150.0)),
            owner.placeOrder(contract, LimitOrder("SELL", 1, 250.0)),
        ]
        filled = owner.placeOrder(contract, LimitOrder("BUY", 1, 300.0))
        await eventually(
            lambda: (
                filled.orderStatus.status == "Filled"
                and all(trade.orderStatus.status == "Submitted" for trade in resting)
            )
        )
        async with connected(simulator, MASTER) as master:
            assert master.openTrades() == []
            assert await master.reqOpenOrdersAsync() == []
            everything = await master.reqAllOpenOrdersAsync()
            assert sorted(
                (trade.order.clientId, trade.order.orderId, trade.order.permId)
                for trade in everything
            ) == sorted((OWNER, trade.order.orderId, trade.order.permId) for trade in resting)
            await eventually(lambda: all(trade.orderStatus.remaining == 1 for trade in everything))
            assert {trade.orderStatus.status for trade in everything} == {"Submitted"}

        # Completed orders are the gateway's, not a client's: any client sees them. The
        # completedOrder message names an order by permId only (it has no clientId field).
        completed = await bystander.reqCompletedOrdersAsync(apiOnly=True)
        assert [trade.order.permId for trade in completed] == [filled.order.permId]


async def test_a_master_connecting_later_hears_of_an_earlier_order_when_it_fills(
    simulator: Simulator,
) -> None:
    """A master connection learns of an order it has not seen from an openOrder before the
    status, execution and commission, so ib_async can attach them to a trade."""
    async with connected(simulator, OWNER) as owner:
        trade = owner.placeOrder(await _aapl(owner), LimitOrder("BUY", 10, 185.0))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        order = (OWNER, trade.order.orderId, trade.order.permId)
        async with connected(simulator, MASTER) as master:
            heard = listen(master)
            simulator.set_price("AAPL", 184.5)
            await eventually(lambda: len(heard.commissions) == 1)
            assert heard.opened == [(order, 185.0)]
            assert heard.executions == [(order, trade.fills[0].execution.execId)]
            assert heard.statuses[-1] == (order, "Filled")


def test_the_command_line_sets_the_master_client_id() -> None:
    parser = build_parser()
    assert config_from_arguments(parser.parse_args([])).master_client_id is None
    arguments = parser.parse_args(["--master-client-id", str(MASTER)])
    assert config_from_arguments(arguments).master_client_id == MASTER
