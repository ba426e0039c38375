"""Option greeks as the broker adapter reads them from ib_async's ticker, fed IB's own
tickOptionComputation messages through ib_async's real wrapper."""

from __future__ import annotations

from decimal import Decimal

from ib_async import IB, Option, Ticker

from ibkr_grpc.broker.market_data import option_greeks

REQUEST_ID = 9
# Tick types (https://interactivebrokers.github.io/tws-api/tick_types.html): 10 bid, 11 ask,
# 13 the model's option computation.
BID_COMPUTATION, MODEL_COMPUTATION = 10, 13


def option_ticker() -> tuple[IB, Ticker]:
    ib = IB()
    contract = Option("AAPL", "20260320", 190, "C", "SMART", conId=400_000_001)
    ticker: Ticker = ib.wrapper.startTicker(REQUEST_ID, contract, "mktData")
    return ib, ticker


def test_the_model_and_the_bid_and_ask_volatilities() -> None:
    ib, ticker = option_ticker()
    ib.wrapper.tickOptionComputation(
        REQUEST_ID, MODEL_COMPUTATION, 0, 0.2534, 0.5312, 6.85, 0.0, 0.0291, 0.2011, -0.0712, 190.5
    )
    ib.wrapper.tickOptionComputation(
        REQUEST_ID, BID_COMPUTATION, 0, 0.2498, 0.5309, 6.8, 0.0, 0.0292, 0.2010, -0.0701, 190.5
    )
    greeks = option_greeks(ticker)
    assert greeks is not None
    assert greeks.implied_volatility == Decimal("0.2534")
    assert (greeks.delta, greeks.gamma) == (Decimal("0.5312"), Decimal("0.0291"))
    assert (greeks.vega, greeks.theta) == (Decimal("0.2011"), Decimal("-0.0712"))
    assert (greeks.option_price, greeks.underlying_price) == (Decimal("6.85"), Decimal("190.5"))
    assert greeks.bid_implied_volatility == Decimal("0.2498")
    assert greeks.ask_implied_volatility is None


def test_values_ib_did_not_compute_are_empty() -> None:
    # IB's "not computed": -1 for the volatility and the prices, -2 for the greeks. ib_async's
    # wrapper.tickOptionComputation turns most into None but passes vega and theta of -2
    # through (`vega if vega != -2 else vega`): they must not reach a client as "-2".
    ib, ticker = option_ticker()
    ib.wrapper.tickOptionComputation(
        REQUEST_ID, MODEL_COMPUTATION, 0, -1.0, -2.0, -1.0, -1.0, -2.0, -2.0, -2.0, 190.5
    )
    assert ticker.modelGreeks is not None
    assert ticker.modelGreeks.vega == -2.0, "ib_async passes vega's -2 through"
    greeks = option_greeks(ticker)
    assert greeks is not None
    assert (greeks.implied_volatility, greeks.delta, greeks.gamma) == (None, None, None)
    assert (greeks.vega, greeks.theta, greeks.option_price) == (None, None, None)
    assert greeks.underlying_price == Decimal("190.5")


def test_a_ticker_without_option_computations_has_no_greeks() -> None:
    assert option_greeks(Ticker()) is None
