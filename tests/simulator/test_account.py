"""Account state driven by fills: positions, portfolio, account values, summary, PnL."""

from __future__ import annotations

import pytest
from ib_async import IB, Contract, Forex, MarketOrder, Stock, Trade

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING

ACCOUNT = "DU1234567"


async def _filled(ib: IB, contract: Contract, action: str, quantity: float) -> Trade:
    trade = ib.placeOrder(contract, MarketOrder(action, quantity))
    await eventually(lambda: trade.isDone() and trade.fills[-1].commissionReport.execId != "")
    return trade


def _value(ib: IB, tag: str, currency: str = "USD") -> float:
    [value] = [
        item.value
        for item in ib.accountValues(ACCOUNT)
        if item.tag == tag and item.currency == currency and item.modelCode == ""
    ]
    return float(value)


async def test_a_round_trip_moves_positions_cash_and_realized_pnl(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        assert isinstance(contract, Contract)
        starting_cash = _value(ib, "TotalCashValue")

        buy = await _filled(ib, contract, "BUY", 100)
        buy_price = buy.fills[0].execution.price
        await eventually(lambda: bool(ib.positions()) and bool(ib.portfolio()))
        [position] = ib.positions()
        assert position.position == 100
        assert position.avgCost == pytest.approx(buy_price + 1.0 / 100)
        assert buy.fills[0].commissionReport.realizedPNL == 0.0
        await eventually(
            lambda: (
                _value(ib, "TotalCashValue") == pytest.approx(starting_cash - buy_price * 100 - 1.0)
            )
        )

        simulator.set_price("AAPL", 200.0)
        await eventually(lambda: ib.portfolio()[0].marketPrice == 200.0)
        [item] = ib.portfolio()
        assert item.position == 100
        assert item.marketValue == pytest.approx(20_000.0)
        assert item.unrealizedPNL == pytest.approx(100 * (200.0 - position.avgCost))
        net_liquidation = _value(ib, "NetLiquidation")
        assert net_liquidation == pytest.approx(_value(ib, "TotalCashValue") + 20_000.0)
        assert _value(ib, "GrossPositionValue") == pytest.approx(20_000.0)
        assert _value(ib, "BuyingPower") == pytest.approx(4 * (net_liquidation - 5_000.0))
        assert _value(ib, "MaintMarginReq") == pytest.approx(5_000.0)

        sell = await _filled(ib, contract, "SELL", 100)
        sell_price = sell.fills[0].execution.price
        realized = sell.fills[0].commissionReport.realizedPNL
        assert realized == pytest.approx((sell_price - position.avgCost) * 100 - 1.0)
        await eventually(lambda: ib.positions() == [] and ib.portfolio() == [])
        await eventually(lambda: _value(ib, "RealizedPnL") == pytest.approx(realized, abs=0.01))


async def test_account_summary_reports_the_tags_ib_async_asks_for(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        summary = await ib.accountSummaryAsync(ACCOUNT)
        tags = {item.tag: item for item in summary}
        assert float(tags["NetLiquidation"].value) == 1_000_000.0
        assert tags["NetLiquidation"].currency == "USD"
        assert float(tags["BuyingPower"].value) == 4_000_000.0
        assert tags["AccountType"].value == "INDIVIDUAL"
        assert {"ExcessLiquidity", "InitMarginReq", "Cushion", "TotalCashValue"} <= set(tags)


async def test_pnl_and_single_position_pnl_follow_the_market(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        [contract] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        assert isinstance(contract, Contract)
        pnl = ib.reqPnL(ACCOUNT)
        single = ib.reqPnLSingle(ACCOUNT, "", contract.conId)
        await eventually(lambda: pnl.unrealizedPnL == 0.0 and single.position == 0)
        await _filled(ib, contract, "BUY", 50)
        [position] = ib.positions()
        simulator.set_price("MSFT", 420.0)
        expected = 50 * (420.0 - position.avgCost)
        await eventually(lambda: single.unrealizedPnL == pytest.approx(expected))
        await eventually(lambda: pnl.unrealizedPnL == pytest.approx(expected))
        assert single.position == 50
        assert single.value == pytest.approx(21_000.0)
        assert pnl.dailyPnL == pytest.approx(expected)
        sell = await _filled(ib, contract, "SELL", 20)
        realized = sell.fills[0].commissionReport.realizedPNL
        await eventually(lambda: pnl.realizedPnL == pytest.approx(realized))
        await eventually(lambda: single.position == 30)
        ib.cancelPnL(ACCOUNT)
        ib.cancelPnLSingle(ACCOUNT, "", contract.conId)


async def test_forex_trades_book_a_currency_position() -> None:
    async with (
        Simulator(SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)) as simulator,
        connected(simulator) as ib,
    ):
        [pair] = await ib.qualifyContractsAsync(Forex("EURUSD"))
        assert isinstance(pair, Contract)
        trade = await _filled(ib, pair, "BUY", 20_000)
        assert trade.fills[0].commissionReport.commission == 2.0
        await eventually(lambda: bool(ib.positions()))
        [position] = ib.positions()
        assert position.contract.secType == "CASH"
        assert position.position == 20_000


async def test_several_accounts_each_keep_their_own_book() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, accounts=("DU1111111", "DU2222222")
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        assert ib.managedAccounts() == ["DU1111111", "DU2222222"]
        [contract] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        assert isinstance(contract, Contract)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10, account="DU2222222"))
        await eventually(trade.isDone)
        await eventually(lambda: bool(ib.positions()))
        assert [(p.account, p.position) for p in ib.positions()] == [("DU2222222", 10)]
        values = {
            (item.account, item.tag): item.value
            for item in ib.accountValues()
            if item.currency == "USD"
        }
        assert float(values[("DU1111111", "GrossPositionValue")]) == 0.0
        await eventually(
            lambda: (
                float(
                    next(
                        item.value
                        for item in ib.accountValues("DU2222222")
                        if item.tag == "GrossPositionValue" and item.currency == "USD"
                    )
                )
                > 0
            )
        )
