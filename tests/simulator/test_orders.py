"""Orders: types, time in force, modify, cancel, reject, fills, with the events ib_async raises."""

from __future__ import annotations

import pytest
from ib_async import (
    IB,
    Contract,
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    StopLimitOrder,
    StopOrder,
    Trade,
)

from ibkr_simulator import FillPolicy, Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


async def _aapl(ib: IB) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda request, code, text, _contract: seen.append((request, code, text))
    return seen


async def test_a_limit_below_the_market_rests_and_cancels(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contract = await _aapl(ib)
        order = LimitOrder("BUY", 10, 180.0, orderRef="service-order-1")
        trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        assert trade.order.permId > 0
        assert trade.order.orderRef == "service-order-1"
        await simulator.step(5)
        assert trade.fills == []
        statuses: list[str] = []
        trade.statusEvent += lambda updated: statuses.append(updated.orderStatus.status)
        ib.cancelOrder(order)
        await eventually(lambda: trade.orderStatus.status == "Cancelled")
        await eventually(lambda: (order.orderId, 202) in [(r, c) for r, c, _ in errors])
        assert statuses[0] == "PendingCancel"
        assert statuses[-1] == "Cancelled"


async def test_a_market_order_fills_with_execution_and_commission(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        executions: list[Trade] = []
        commissions: list[float] = []
        ib.execDetailsEvent += lambda trade, _fill: executions.append(trade)
        ib.commissionReportEvent += lambda _t, _f, report: commissions.append(report.commission)
        ask = simulator.quote("AAPL").ask
        trade = ib.placeOrder(contract, MarketOrder("BUY", 100, orderRef="m-1"))
        await eventually(lambda: trade.orderStatus.status == "Filled" and commissions)
        [fill] = trade.fills
        assert fill.execution.side == "BOT"
        assert fill.execution.shares == 100
        assert fill.execution.price == ask
        assert fill.execution.orderRef == "m-1"
        assert fill.execution.permId == trade.order.permId
        assert fill.execution.time.tzinfo is not None
        assert fill.commissionReport.commission == 1.0
        assert fill.commissionReport.currency == "USD"
        assert executions == [trade]
        assert trade.orderStatus.avgFillPrice == ask
        assert trade.orderStatus.remaining == 0


async def test_a_limit_fills_only_when_the_market_crosses_it(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        buy = ib.placeOrder(contract, LimitOrder("BUY", 10, 185.0))
        sell = ib.placeOrder(contract, LimitOrder("SELL", 10, 195.0))
        await eventually(lambda: buy.orderStatus.status == sell.orderStatus.status == "Submitted")
        await simulator.step(10)
        assert buy.fills == sell.fills == []
        simulator.set_price("AAPL", 184.50)
        await eventually(lambda: buy.orderStatus.status == "Filled")
        assert buy.fills[0].execution.price <= 185.0
        assert sell.orderStatus.status == "Submitted"
        simulator.set_price("AAPL", 195.50)
        await eventually(lambda: sell.orderStatus.status == "Filled")
        assert sell.fills[0].execution.price >= 195.0


async def test_stop_and_stop_limit_trigger_on_the_last_trade(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        stop = ib.placeOrder(contract, StopOrder("BUY", 5, 195.0))
        stop_limit = ib.placeOrder(contract, StopLimitOrder("BUY", 5, 196.0, 195.0))
        await eventually(
            lambda: stop.orderStatus.status == stop_limit.orderStatus.status == "PreSubmitted"
        )
        simulator.set_price("AAPL", 200.0)
        await eventually(lambda: stop.orderStatus.status == "Filled")
        assert stop.fills[0].execution.price > 195.0
        # Triggered, but the market is above the limit: it works as a limit order.
        await eventually(lambda: stop_limit.orderStatus.status == "Submitted")
        assert stop_limit.fills == []
        simulator.set_price("AAPL", 195.50)
        await eventually(lambda: stop_limit.orderStatus.status == "Filled")
        assert stop_limit.fills[0].execution.price <= 196.0


async def test_trailing_stops_by_amount_and_by_percent(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        by_amount = Order(action="SELL", totalQuantity=1, orderType="TRAIL", auxPrice=2.0)
        by_percent = Order(action="SELL", totalQuantity=1, orderType="TRAIL", trailingPercent=1.0)
        amount_trade = ib.placeOrder(contract, by_amount)
        percent_trade = ib.placeOrder(contract, by_percent)
        await eventually(lambda: percent_trade.orderStatus.status == "PreSubmitted")
        simulator.set_price("AAPL", 200.0)  # stops trail up to 198.00 and 198.00
        simulator.set_price("AAPL", 198.50)
        await simulator.step()
        assert amount_trade.fills == percent_trade.fills == []
        simulator.set_price("AAPL", 197.90)
        await eventually(lambda: amount_trade.isDone() and percent_trade.isDone())
        assert amount_trade.orderStatus.status == percent_trade.orderStatus.status == "Filled"
        assert 197.0 < amount_trade.fills[0].execution.price < 198.0


async def test_ioc_and_fok_cancel_when_not_marketable(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        ioc = ib.placeOrder(contract, LimitOrder("BUY", 10, 150.0, tif="IOC"))
        fok = ib.placeOrder(contract, LimitOrder("BUY", 10, 150.0, tif="FOK"))
        filled_ioc = ib.placeOrder(contract, LimitOrder("BUY", 10, 250.0, tif="IOC"))
        await eventually(lambda: ioc.isDone() and fok.isDone() and filled_ioc.isDone())
        assert ioc.orderStatus.status == fok.orderStatus.status == "Cancelled"
        assert filled_ioc.orderStatus.status == "Filled"


async def test_partial_fills_then_ioc_remainder_is_cancelled() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, fills=FillPolicy(partial_fill_quantity=30)
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        contract = await _aapl(ib)
        market = ib.placeOrder(contract, MarketOrder("BUY", 100))
        await eventually(lambda: len(market.fills) == 1)
        assert market.orderStatus.status == "Submitted"
        assert market.orderStatus.filled == 30
        assert market.orderStatus.remaining == 70
        await simulator.step(3)
        await eventually(lambda: market.orderStatus.status == "Filled")
        assert [fill.execution.shares for fill in market.fills] == [30, 30, 30, 10]
        assert [fill.execution.cumQty for fill in market.fills] == [30, 60, 90, 100]
        ioc = ib.placeOrder(contract, MarketOrder("SELL", 100, tif="IOC"))
        fok = ib.placeOrder(contract, MarketOrder("SELL", 100, tif="FOK"))
        await eventually(lambda: ioc.isDone() and fok.isDone())
        assert (ioc.orderStatus.status, ioc.orderStatus.filled) == ("Cancelled", 30)
        assert (fok.orderStatus.status, fok.orderStatus.filled) == ("Filled", 100)


async def test_modify_by_placing_the_same_order_id_again(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        order = LimitOrder("BUY", 10, 180.0)
        trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        perm_id = trade.order.permId
        order.lmtPrice = 181.0
        order.totalQuantity = 20
        ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.remaining == 20)
        assert [entry.message for entry in trade.log if entry.message] == ["Modify"]
        assert trade.order.lmtPrice == 181.0
        assert trade.order.permId == perm_id
        order.lmtPrice = 195.0
        ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert trade.orderStatus.filled == 20


async def test_rejections_carry_error_201_and_a_reason(simulator: Simulator) -> None:
    # Refusals with a code of their own (110, 434, 103, 104, margin) are in test_order_refusals.
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contract = await _aapl(ib)
        unknown = ib.placeOrder(Stock("NOSUCH", "SMART", "USD"), MarketOrder("BUY", 1))
        fractional = ib.placeOrder(contract, MarketOrder("BUY", 1.5))
        await eventually(lambda: unknown.isDone() and fractional.isDone())
        simulator.reject_next_order("Insufficient margin (simulated)")
        refused = ib.placeOrder(contract, MarketOrder("BUY", 1))
        accepted = ib.placeOrder(contract, MarketOrder("BUY", 1))
        trades = (unknown, fractional, refused)
        await eventually(lambda: all(trade.isDone() for trade in trades) and accepted.isDone())
        assert [trade.orderStatus.status for trade in trades] == ["Cancelled"] * 3
        reasons = {request: text for request, code, text in errors if code == 201}
        assert "No security definition" in reasons[unknown.order.orderId]
        assert "Fractional" in reasons[fractional.order.orderId]
        assert "Insufficient margin" in reasons[refused.order.orderId]
        assert accepted.orderStatus.status == "Filled"


async def test_global_cancel_cancels_every_working_order(simulator: Simulator) -> None:
    async with connected(simulator, 1) as first, connected(simulator, 2) as second:
        mine = first.placeOrder(await _aapl(first), LimitOrder("BUY", 1, 150.0))
        theirs = second.placeOrder(await _aapl(second), LimitOrder("SELL", 1, 250.0))
        await eventually(lambda: not mine.isDone() and theirs.orderStatus.status == "Submitted")
        first.reqGlobalCancel()  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: mine.isDone() and theirs.isDone())
        assert mine.orderStatus.status == theirs.orderStatus.status == "Cancelled"


async def test_cancelling_an_unknown_order_answers_10147(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        errors = _errors(ib)
        ib.client.cancelOrder(4242)  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: [code for _, code, _ in errors] == [10147])


async def test_day_orders_expire_and_gtc_orders_stay(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        day = ib.placeOrder(contract, LimitOrder("BUY", 1, 150.0, tif="DAY"))
        gtc = ib.placeOrder(contract, LimitOrder("BUY", 1, 150.0, tif="GTC"))
        await eventually(lambda: gtc.orderStatus.status == "Submitted")
        simulator.expire_day_orders()
        await eventually(lambda: day.orderStatus.status == "Cancelled")
        assert gtc.orderStatus.status == "Submitted"


async def test_what_if_orders_estimate_margin_and_commission_without_trading(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        state = await ib.whatIfOrderAsync(contract, LimitOrder("BUY", 100, 190.0))
        assert float(state.initMarginBefore) == 0.0
        assert float(state.initMarginChange) == pytest.approx(100 * 190.0 * 0.25)
        assert float(state.maintMarginAfter) == pytest.approx(100 * 190.0 * 0.25)
        assert float(state.equityWithLoanAfter) == 1_000_000.0
        assert state.minCommission == state.maxCommission == 1.0
        assert state.commissionCurrency == "USD"
        assert ib.openTrades() == []
        assert await ib.reqPositionsAsync() == []
        assert simulator.status().open_orders == 0
        errors = _errors(ib)
        rejected: object = await ib.whatIfOrderAsync(contract, LimitOrder("BUY", 1.5, 190.0))
        # With RaiseRequestErrors off, ib_async ends a failed request with an empty list.
        assert rejected == []
        assert [code for _, code, _ in errors] == [201]
