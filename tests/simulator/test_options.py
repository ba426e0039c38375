"""Options on the simulated stocks and on ES: chains, contract details, quotes and option
computation ticks, fills and PnL with the multiplier, exercise and expiry, through ib_async."""

from __future__ import annotations

import datetime as dt

from ib_async import IB, Contract, Future, FuturesOption, MarketOrder, Option, Stock, Ticker

from ibkr_simulator import Simulator
from ibkr_simulator.option_pricing import OptionTerms, evaluate, implied_volatility
from ibkr_simulator.trading_calendar import NEW_YORK
from tests.simulator.support import connected, eventually

AAPL_CON_ID = 265598
# From Tuesday 2026-03-03: the next four Fridays and the third Fridays of March, April, May.
AAPL_EXPIRIES = ["20260306", "20260313", "20260320", "20260327", "20260417", "20260515"]


async def _qualified(ib: IB, contract: Contract) -> Contract:
    [found] = await ib.qualifyContractsAsync(contract)
    assert isinstance(found, Contract)
    return found


async def test_a_stock_option_chain_has_a_row_per_exchange(simulator: Simulator) -> None:
    # securityDefinitionOptionParameter carries exchange, underlyingConId, tradingClass,
    # multiplier, expirations and strikes, one call per exchange and trading class
    # (https://interactivebrokers.github.io/tws-api/options.html; ib_async's option chain
    # notebook picks `c.tradingClass == 'SPX' and c.exchange == 'SMART'`).
    async with connected(simulator) as ib:
        chains = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", AAPL_CON_ID)
        assert {chain.exchange for chain in chains} >= {"SMART", "CBOE"}
        [smart] = [chain for chain in chains if chain.exchange == "SMART"]
        assert (smart.tradingClass, smart.multiplier) == ("AAPL", "100")
        assert int(smart.underlyingConId) == AAPL_CON_ID
        assert sorted(smart.expirations) == AAPL_EXPIRIES
        assert 190.0 in smart.strikes
        assert all(strike % 2.5 == 0 for strike in smart.strikes)
        assert all(chain.strikes == smart.strikes for chain in chains)
        only_cboe = await ib.reqSecDefOptParamsAsync("AAPL", "CBOE", "STK", AAPL_CON_ID)
        assert [chain.exchange for chain in only_cboe] == ["CBOE"]


async def test_a_futures_option_chain_names_the_future(simulator: Simulator) -> None:
    # For options on futures the request names the future and its exchange
    # (reqSecDefOptParams' futFopExchange, https://interactivebrokers.github.io/tws-api/options.html).
    async with connected(simulator) as ib:
        front = await _qualified(ib, Future("ES", "202603", "CME"))
        [chain] = await ib.reqSecDefOptParamsAsync("ES", "CME", "FUT", front.conId)
        assert (chain.exchange, chain.tradingClass, chain.multiplier) == ("CME", "ES", "50")
        assert int(chain.underlyingConId) == front.conId
        assert chain.expirations == ["20260320"]
        assert 5200.0 in chain.strikes
        option = await _qualified(
            ib, FuturesOption("ES", "20260320", 5200.0, "C", "CME", tradingClass="ES")
        )
        [details] = await ib.reqContractDetailsAsync(option)
        assert details.underConId == front.conId
        assert option.localSymbol == "ESH6 C5200"


async def test_contract_details_for_one_option_and_for_partial_specs(
    simulator: Simulator,
) -> None:
    # A full spec qualifies to one contract with IB's OCC localSymbol
    # ('UBX   210416C00007500', github.com/erdewit/ib_insync/issues/351); a contract month
    # matches every expiry in it (IB answers '201902' with February's expiries,
    # github.com/erdewit/ib_insync/issues/122), and without a strike every strike comes back.
    async with connected(simulator) as ib:
        call = await _qualified(ib, Option("AAPL", "20260320", 190, "C", "SMART"))
        assert call.localSymbol == "AAPL  260320C00190000"
        assert (call.multiplier, call.tradingClass, call.currency) == ("100", "AAPL", "USD")
        [details] = await ib.reqContractDetailsAsync(Contract(conId=call.conId))
        assert (details.underConId, details.underSymbol, details.underSecType) == (
            AAPL_CON_ID,
            "AAPL",
            "STK",
        )
        assert details.contractMonth == "202603"
        every_strike = await ib.reqContractDetailsAsync(
            Option("AAPL", "20260320", right="C", exchange="SMART")
        )
        strikes = sorted(d.contract.strike for d in every_strike if d.contract)
        chains = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", AAPL_CON_ID)
        assert strikes == sorted(chains[0].strikes)
        march = await ib.reqContractDetailsAsync(Option("AAPL", "202603", 190, "P", "SMART"))
        expiries = sorted(d.contract.lastTradeDateOrContractMonth for d in march if d.contract)
        assert expiries == ["20260306", "20260313", "20260320", "20260327"]


async def _ticking(ib: IB, contract: Contract) -> Ticker:
    ticker = ib.reqMktData(contract)
    await eventually(lambda: ticker.modelGreeks is not None and ticker.bid == ticker.bid)
    return ticker


async def test_quotes_and_greeks_follow_the_underlying(simulator: Simulator) -> None:
    # tickOptionComputation: tick types 10 (bid), 11 (ask), 12 (last), 13 (model) with implied
    # volatility, delta, option price, pvDividend, gamma, vega, theta and the underlying price
    # (https://interactivebrokers.github.io/tws-api/option_computations.html); ib_async's
    # decoder reads them without a version field from server version 156.
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        call = await _qualified(ib, Option("AAPL", "20260320", 190, "C", "SMART"))
        put = await _qualified(ib, Option("AAPL", "20260320", 190, "P", "SMART"))
        call_ticker = await _ticking(ib, call)
        put_ticker = await _ticking(ib, put)
        model = call_ticker.modelGreeks
        assert model is not None
        assert model.delta is not None
        assert model.undPrice is not None
        assert 0.45 < model.delta < 0.65
        assert abs(model.undPrice - 190.0) < 0.02
        assert model.impliedVol is not None
        assert abs(model.impliedVol - 0.28) < 0.01
        assert model.gamma is not None
        assert model.gamma > 0
        assert model.theta is not None
        assert model.theta < 0
        put_model = put_ticker.modelGreeks
        assert put_model is not None
        assert put_model.delta is not None
        assert -0.55 < put_model.delta < -0.35
        assert call_ticker.bid < model.optPrice < call_ticker.ask  # type: ignore[operator]
        bid_greeks = call_ticker.bidGreeks
        assert bid_greeks is not None
        assert bid_greeks.optPrice == call_ticker.bid
        assert call_ticker.askGreeks is not None
        before_call, before_put = call_ticker.bid, put_ticker.bid
        simulator.set_price("AAPL", 200.0)
        await eventually(lambda: call_ticker.bid > before_call + 5)
        await eventually(lambda: put_ticker.bid < before_put)
        assert call_ticker.modelGreeks is not None
        assert call_ticker.modelGreeks.undPrice is not None
        assert abs(call_ticker.modelGreeks.undPrice - 200.0) < 0.02


async def test_the_smile_prices_puts_below_the_money_dearer(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        volatilities = []
        for strike in (160.0, 190.0, 220.0):
            option = await _qualified(ib, Option("AAPL", "20260417", strike, "P", "SMART"))
            ticker = await _ticking(ib, option)
            assert ticker.modelGreeks is not None
            volatilities.append(ticker.modelGreeks.impliedVol)
        low, middle, high = volatilities
        assert low is not None
        assert middle is not None
        assert high is not None
        assert low > middle > high


async def test_an_option_fills_and_is_valued_times_one_hundred(simulator: Simulator) -> None:
    # averageCost per contract includes the multiplier (github.com/erdewit/ib_insync/issues/175);
    # IB's option commission: 0.65 per contract, 1.00 minimum per order
    # (https://www.interactivebrokers.com/en/pricing/commissions-options.php).
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        call = await _qualified(ib, Option("AAPL", "20260320", 190, "C", "SMART"))
        trade = ib.placeOrder(call, MarketOrder("BUY", 3))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        await eventually(lambda: bool(trade.fills) and trade.fills[-1].commissionReport.execId)
        price = trade.orderStatus.avgFillPrice
        commission = sum(fill.commissionReport.commission for fill in trade.fills)
        assert abs(commission - 1.95) < 1e-9
        [position] = [p for p in ib.positions() if p.contract.conId == call.conId]
        assert position.position == 3
        assert abs(position.avgCost - (price * 100 + commission / 3)) < 1e-6
        account = ib.wrapper.accounts[0]
        pnl = ib.reqPnLSingle(account, "", call.conId)
        simulator.set_price("AAPL", 195.0)
        mark = simulator.gateway.prices.quote(call.conId).midpoint
        await eventually(lambda: abs(pnl.value - 3 * mark * 100) < 0.01)
        assert abs(pnl.unrealizedPnL - (3 * mark * 100 - 3 * position.avgCost)) < 0.01
        assert pnl.unrealizedPnL > 0


async def test_at_expiry_in_the_money_options_exercise_and_the_rest_lapse(
    simulator: Simulator,
) -> None:
    """OCC exercises options in the money by $0.01 or more at expiration: exercise by
    exception (https://www.theocc.com/clearance-and-settlement/exercise-and-assignment)."""
    async with connected(simulator) as ib:
        account = ib.wrapper.accounts[0]
        simulator.set_price("AAPL", 190.0)
        call = await _qualified(ib, Option("AAPL", "20260306", 185, "C", "SMART"))
        put = await _qualified(ib, Option("AAPL", "20260306", 180, "P", "SMART"))
        for contract in (call, put):
            trade = ib.placeOrder(contract, MarketOrder("BUY", 2))
            await eventually(lambda trade=trade: trade.orderStatus.status == "Filled")  # type: ignore[misc]
        stock = await _qualified(ib, Stock("AAPL", "SMART", "USD"))
        simulator.set_time(dt.datetime(2026, 3, 6, 15, 59, tzinfo=NEW_YORK))
        simulator.set_price("AAPL", 192.0)
        simulator.set_time(dt.datetime(2026, 3, 6, 16, 0, tzinfo=NEW_YORK))

        def held(contract: Contract) -> float:
            return sum(p.position for p in ib.positions() if p.contract.conId == contract.conId)

        await eventually(lambda: held(stock) == 200 and held(call) == 0 and held(put) == 0)
        [shares] = [p for p in ib.positions() if p.contract.conId == stock.conId]
        assert shares.avgCost == 185.0  # delivered at the strike
        lapsed = simulator.gateway.accounts.position(account, put.conId)
        assert lapsed is not None
        assert lapsed.realized_pnl < 0


def test_black_scholes_matches_the_textbook_value_and_parity() -> None:
    # Hull's example: S=K=100, one year, r=5%, sigma=20% gives a call of 10.45.
    call = OptionTerms(100.0, 100.0, 1.0, is_call=True, on_future=False, rate=0.05)
    put = OptionTerms(100.0, 100.0, 1.0, is_call=False, on_future=False, rate=0.05)
    call_value = evaluate(call, 0.2).price
    put_value = evaluate(put, 0.2).price
    assert abs(call_value - 10.4506) < 1e-3
    # Put-call parity: C - P = S - K e^(-rT).
    assert abs((call_value - put_value) - (100 - 100 * call.discount)) < 1e-9
    found = implied_volatility(call, call_value)
    assert found is not None
    assert abs(found - 0.2) < 1e-5
    assert implied_volatility(call, 0.0001) is None  # below any volatility's value
