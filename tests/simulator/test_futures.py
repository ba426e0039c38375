"""Futures: ES and NQ on CME, quarterly contracts, the front month, quotes, fills and PnL with
the multiplier, and expiry, through the real ib_async client."""

from __future__ import annotations

import asyncio
import datetime as dt

from ib_async import IB, ContFuture, Contract, Future, MarketOrder

from ibkr_simulator import Simulator
from ibkr_simulator.trading_calendar import NEW_YORK
from tests.simulator.support import connected, eventually

# The simulator's clock starts on Tuesday 2026-03-03 (tests.support.market_hours): the listed
# ES contracts are the next five quarterly ones, each expiring on its third Friday.
ES_EXPIRIES = ["20260320", "20260618", "20260918", "20261218", "20270319"]
ES_LOCAL_SYMBOLS = ["ESH6", "ESM6", "ESU6", "ESZ6", "ESH7"]


async def _qualified(ib: IB, contract: Contract) -> Contract:
    [found] = await ib.qualifyContractsAsync(contract)
    assert isinstance(found, Contract)
    return found


async def test_contract_details_by_symbol_list_every_quarterly_expiry(simulator: Simulator) -> None:
    # IB's Contract: "lastTradeDateOrContractMonth ... Strings with format YYYYMM will be
    # interpreted as the Contract Month whereas YYYYMMDD will be interpreted as Last Trading
    # Day" (https://interactivebrokers.github.io/tws-api/classIBApi_1_1Contract.html); a
    # request without one gets every listed contract. ES: CME, multiplier 50, quarterly
    # H/M/U/Z contracts expiring on the third Friday
    # (https://www.cmegroup.com/markets/equities/sp/e-mini-sandp500.contractSpecs.html).
    async with connected(simulator) as ib:
        details = await ib.reqContractDetailsAsync(Future("ES", exchange="CME"))
        contracts = [detail.contract for detail in details if detail.contract is not None]
        assert [contract.lastTradeDateOrContractMonth for contract in contracts] == ES_EXPIRIES
        assert [contract.localSymbol for contract in contracts] == ES_LOCAL_SYMBOLS
        assert {contract.multiplier for contract in contracts} == {"50"}
        assert {contract.exchange for contract in contracts} == {"CME"}
        assert {contract.tradingClass for contract in contracts} == {"ES"}
        first = details[0]
        assert (first.contractMonth, first.realExpirationDate) == ("202603", "20260320")
        assert (first.underSymbol, first.underSecType, first.minTick) == ("ES", "IND", 0.25)
        assert first.longName == "E-mini S&P 500"
        # Third Fridays, but June 19, 2026 is Juneteenth, a holiday: the June contracts
        # expire on the 18th (as QuantConnect found for NQ:
        # https://github.com/QuantConnect/Lean/issues/9165).
        for expiry in ES_EXPIRIES:
            day = dt.date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:]))
            assert (day.weekday(), 15 <= day.day <= 21) == (
                (3, True) if day.month == 6 else (4, True)
            )
        nq = await ib.reqContractDetailsAsync(Future("NQ", exchange="CME"))
        assert {detail.contract.multiplier for detail in nq if detail.contract} == {"20"}


async def test_one_contract_by_month_by_local_symbol_and_by_con_id(simulator: Simulator) -> None:
    # IB's own samples name a future by its contract month or by its local symbol
    # (ContractSamples.SimpleFuture and FutureWithLocalSymbol,
    # https://interactivebrokers.github.io/tws-api/basic_contracts.html#fut).
    async with connected(simulator) as ib:
        by_month = await _qualified(ib, Future("ES", "202606", "CME"))
        by_local_symbol = await _qualified(ib, Future(localSymbol="ESM6", exchange="CME"))
        by_day = await _qualified(ib, Future("ES", "20260618", "CME"))
        by_con_id = await _qualified(ib, Contract(conId=by_month.conId))
        assert by_month.conId == by_local_symbol.conId == by_day.conId == by_con_id.conId
        assert by_con_id.secType == "FUT"
        assert by_con_id.localSymbol == "ESM6"


async def test_a_continuous_future_resolves_to_the_front_month(simulator: Simulator) -> None:
    # "If your quest is to get what IB considers the front contract, then this can be done by
    # qualifying the ContFuture contract. It's conId is that of the front contract"
    # (https://github.com/erdewit/ib_insync/issues/263); ib_async keeps secType CONTFUT and
    # hashes it by -conId because it shares the front contract's conId (contract.py __hash__).
    async with connected(simulator) as ib:
        continuous = await _qualified(ib, ContFuture("ES", "CME"))
        front = await _qualified(ib, Future("ES", "202603", "CME"))
        assert continuous.secType == "CONTFUT"
        assert continuous.conId == front.conId
        assert continuous.localSymbol == "ESH6"
        bars = await ib.reqHistoricalDataAsync(
            continuous, "", "1800 S", "1 min", "TRADES", useRTH=True
        )
        assert bars


async def test_a_continuous_future_gives_no_market_data_and_takes_no_orders(
    simulator: Simulator,
) -> None:
    # "Continuous futures cannot be used with real time data or to place orders, but only for
    # historical data" (IB's documentation, quoted in github.com/erdewit/ib_insync/issues/263).
    async with connected(simulator) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda _request, code, _text, _contract: errors.append(code)
        continuous = await _qualified(ib, ContFuture("ES", "CME"))
        ib.reqMktData(continuous)
        await eventually(lambda: errors == [200])
        trade = ib.placeOrder(continuous, MarketOrder("BUY", 1))
        await eventually(lambda: trade.orderStatus.status == "Cancelled")
        assert errors == [200, 201]


async def test_the_curve_moves_together_and_quotes_one_tick_wide(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        front = await _qualified(ib, Future("ES", "202603", "CME"))
        ticker = ib.reqMktData(front)
        await eventually(lambda: ticker.bid > 0 and ticker.ask > 0)
        assert ticker.ask - ticker.bid == 0.25
        before = {symbol: simulator.quote(symbol).midpoint for symbol in ES_LOCAL_SYMBOLS}
        await simulator.step(20)
        after = {symbol: simulator.quote(symbol).midpoint for symbol in ES_LOCAL_SYMBOLS}
        ratios = [after[symbol] / before[symbol] for symbol in ES_LOCAL_SYMBOLS]
        assert max(ratios) - min(ratios) < 0.001
        # The later contracts trade above the front one (carry: rates above dividends).
        assert after["ESH6"] < after["ESM6"] < after["ESU6"]
        simulator.set_price("ESH6", 5500.0)
        await eventually(lambda: ticker.bid == 5499.75 or ticker.ask == 5500.25)
        assert simulator.quote("ESM6").midpoint > 5500.0


async def test_fills_positions_and_pnl_carry_the_multiplier(simulator: Simulator) -> None:
    # IB reports averageCost per contract, the multiplier included (a GC fill at 1477.3 shows
    # averageCost 147732.37: https://github.com/erdewit/ib_insync/issues/175), and marks the
    # position at price x multiplier.
    async with connected(simulator) as ib:
        account = ib.wrapper.accounts[0]
        front = await _qualified(ib, Future("ES", "202603", "CME"))
        simulator.set_price("ESH6", 5200.0)
        trade = ib.placeOrder(front, MarketOrder("BUY", 2))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        fill_price = trade.orderStatus.avgFillPrice
        assert fill_price == 5200.25
        await eventually(lambda: bool(trade.fills) and trade.fills[-1].commissionReport.execId)
        commission = sum(fill.commissionReport.commission for fill in trade.fills)
        assert abs(commission - 1.70) < 1e-9  # 0.85 per contract
        [position] = [p for p in ib.positions() if p.contract.conId == front.conId]
        assert position.position == 2
        assert abs(position.avgCost - (fill_price * 50 + commission / 2)) < 1e-6
        pnl = ib.reqPnLSingle(account, "", front.conId)
        simulator.set_price("ESH6", 5210.0)
        await simulator.step()
        expected = 2 * simulator.quote("ESH6").last * 50 - 2 * position.avgCost
        await eventually(lambda: abs(pnl.unrealizedPnL - expected) < 0.01)
        assert pnl.value == 2 * simulator.quote("ESH6").last * 50
        items = [item for item in ib.portfolio() if item.contract.conId == front.conId]
        await eventually(lambda: bool(items) or bool(ib.portfolio()))
        [item] = [item for item in ib.portfolio() if item.contract.conId == front.conId]
        assert item.marketValue == item.position * item.marketPrice * 50


async def test_a_future_settles_at_the_close_of_its_last_day(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        front = await _qualified(ib, Future("ES", "202603", "CME"))
        simulator.set_price("ESH6", 5200.0)
        trade = ib.placeOrder(front, MarketOrder("SELL", 1))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        sold_at = trade.orderStatus.avgFillPrice
        simulator.set_time(dt.datetime(2026, 3, 20, 15, 59, tzinfo=NEW_YORK))
        simulator.set_price("ESH6", 5150.0)
        await asyncio.sleep(0.05)
        assert [p.position for p in ib.positions() if p.contract.conId == front.conId] == [-1]
        simulator.set_time(dt.datetime(2026, 3, 20, 16, 0, tzinfo=NEW_YORK))
        # A position of 0 arrives and ib_async drops the position (wrapper.py position).
        await eventually(
            lambda: [p.position for p in ib.positions() if p.contract.conId == front.conId] == []
        )
        position = simulator.gateway.accounts.position(ib.wrapper.accounts[0], front.conId)
        assert position is not None
        assert abs(position.realized_pnl - ((sold_at - 5150.0) * 50 - 0.85)) < 1e-6
        # The expired contract is found only with includeExpired, as at IB.
        assert await ib.reqContractDetailsAsync(Future("ES", "202603", "CME")) == []
        expired = Future("ES", "202603", "CME")
        expired.includeExpired = True
        assert len(await ib.reqContractDetailsAsync(expired)) == 1
