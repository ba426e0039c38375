"""Orders outlive the connection: reconnecting with the same client id finds them, permIds stay."""

from __future__ import annotations

from ib_async import Contract, LimitOrder, MarketOrder, Stock

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually, next_valid_id
from tests.support.market_hours import TRADING_MORNING


async def test_orders_and_fills_survive_a_disconnect(simulator: Simulator) -> None:
    async with connected(simulator, 9) as ib:
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(contract, Contract)
        resting = ib.placeOrder(contract, LimitOrder("BUY", 5, 150.0, orderRef="svc-rest"))
        crossing = ib.placeOrder(contract, LimitOrder("BUY", 3, 185.0, orderRef="svc-cross"))
        filled = ib.placeOrder(contract, MarketOrder("BUY", 2, orderRef="svc-now"))
        await eventually(lambda: filled.isDone() and crossing.orderStatus.status == "Submitted")
        resting_perm, crossing_perm = resting.order.permId, crossing.order.permId
        filled_execution = filled.fills[0].execution.execId

    # While nobody is connected the market crosses the second limit.
    simulator.set_price("AAPL", 184.0)

    async with connected(simulator, 9) as ib:
        open_trades = {trade.order.permId: trade for trade in ib.openTrades()}
        assert list(open_trades) == [resting_perm]
        reopened = open_trades[resting_perm]
        assert reopened.order.orderRef == "svc-rest"
        assert reopened.orderStatus.status == "Submitted"
        assert reopened.order.orderId == resting.order.orderId

        fills = {fill.execution.execId: fill for fill in ib.fills()}
        assert filled_execution in fills
        missed = [fill for fill in fills.values() if fill.execution.permId == crossing_perm]
        assert [fill.execution.orderRef for fill in missed] == ["svc-cross"]
        assert missed[0].commissionReport.commission > 0

        completed = await ib.reqCompletedOrdersAsync(apiOnly=True)
        assert {trade.order.orderRef for trade in completed} == {"svc-cross", "svc-now"}
        assert {trade.orderStatus.status for trade in completed} == {"Filled"}

        # The reconnected client can cancel what the first connection placed.
        ib.cancelOrder(reopened.order)
        await eventually(lambda: reopened.orderStatus.status == "Cancelled")
        assert ib.client.getReqId() > crossing.order.orderId


async def test_another_client_does_not_see_foreign_orders_but_all_open_orders_does(
    simulator: Simulator,
) -> None:
    async with connected(simulator, 1) as owner, connected(simulator, 2) as other:
        [contract] = await owner.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
        assert isinstance(contract, Contract)
        trade = owner.placeOrder(contract, LimitOrder("SELL", 1, 70.0))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        assert await other.reqOpenOrdersAsync() == []
        everything = await other.reqAllOpenOrdersAsync()
        assert [found.order.permId for found in everything] == [trade.order.permId]


async def test_a_restart_can_roll_next_valid_id_back(simulator: Simulator) -> None:
    async with connected(simulator, 4) as ib:
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(contract, Contract)
        resting = ib.placeOrder(contract, LimitOrder("BUY", 1, 150.0, tif="GTC"))
        filled = ib.placeOrder(contract, MarketOrder("BUY", 1))
        await eventually(lambda: filled.isDone() and resting.orderStatus.status == "Submitted")

    assert await next_valid_id(simulator, 4) == filled.order.orderId + 1
    # A plain reconnect keeps the ids: the filled order's id still names it, so a placeOrder
    # with it is a modification IB refuses with 104 "Can't modify a filled order".
    async with connected(simulator, 4) as ib:
        codes: list[int] = []
        ib.errorEvent += lambda _request, code, _text, _contract: codes.append(code)
        reused = MarketOrder("BUY", 1)
        reused.orderId = filled.order.orderId
        duplicate = ib.placeOrder(contract, reused)
        await eventually(duplicate.isDone)
        assert codes == [104]

    await simulator.refuse_connections(0.05, reset_order_ids=True)
    await eventually(lambda: simulator.is_listening)
    assert await next_valid_id(simulator, 4) == 1
    async with connected(simulator, 4) as ib:
        [found] = ib.openTrades()
        assert found.order.permId == resting.order.permId
        # After the restart the id of the finished order names a new order.
        reused_after_restart = MarketOrder("BUY", 2)
        reused_after_restart.orderId = filled.order.orderId
        again = ib.placeOrder(contract, reused_after_restart)
        await eventually(lambda: again.orderStatus.status == "Filled")
        assert again.order.orderId == filled.order.orderId
        assert again.order.permId not in {filled.order.permId, resting.order.permId}
        fills = {fill.execution.permId for fill in ib.fills()}
        assert {filled.order.permId, again.order.permId} <= fills


async def test_executions_are_visible_to_their_client_and_the_master() -> None:
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, master_client_id=99)
    async with Simulator(config) as simulator:
        async with connected(simulator, 1) as owner:
            [contract] = await owner.qualifyContractsAsync(Stock("KO", "SMART", "USD"))
            assert isinstance(contract, Contract)
            trade = owner.placeOrder(contract, MarketOrder("BUY", 1))
            await eventually(lambda: bool(trade.fills))
        async with connected(simulator, 2) as other, connected(simulator, 99) as master:
            assert other.fills() == []
            assert [fill.execution.clientId for fill in master.fills()] == [1]
