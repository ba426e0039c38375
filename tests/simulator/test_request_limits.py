"""IB's limits on requests: tick-by-tick and account-summary caps, generic tick lists,
cancels of unknown lines, and which historical requests are paced."""

from __future__ import annotations

from ib_async import IB, Contract, Stock

from ibkr_simulator import Limits, Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


async def _contracts(ib: IB, *symbols: str) -> list[Contract]:
    found = await ib.qualifyContractsAsync(*(Stock(symbol, "SMART", "USD") for symbol in symbols))
    qualified = [contract for contract in found if isinstance(contract, Contract)]
    assert len(qualified) == len(symbols)
    return qualified


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda request, code, text, _contract: seen.append((request, code, text))
    return seen


async def test_tick_by_tick_past_the_cap_is_error_10190(simulator: Simulator) -> None:
    # "The maximum number of simultaneous tick-by-tick subscriptions allowed for a user is 5%
    # of the user's total market data lines" (IB's TWS API documentation, Tick By Tick Data,
    # https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/): five at the default
    # 100 lines. 10190: "Max number of tick-by-tick requests has been reached." (message codes;
    # a real gateway's message, with its final period, is logged in nautechsystems/
    # nautilus_trader, nautilus_trader/adapters/interactive_brokers/client/client.py).
    assert Limits().tick_by_tick_subscriptions == 5
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contracts = await _contracts(ib, "AAPL", "MSFT", "KO", "SPY", "QQQ", "IWM")
        for contract in contracts:
            ib.reqTickByTickData(contract, "BidAsk")
        await eventually(lambda: [code for _, code, _ in errors] == [10190])
        assert errors[0][2] == "Max number of tick-by-tick requests has been reached."
        ib.cancelTickByTickData(contracts[0], "BidAsk")
        ib.reqTickByTickData(contracts[5], "MidPoint")
        await ib.reqCurrentTimeAsync()
        assert [code for _, code, _ in errors] == [10190]


async def test_a_third_account_summary_subscription_is_error_322(simulator: Simulator) -> None:
    # "only two active summary subscriptions" at a time
    # (https://interactivebrokers.github.io/tws-api/account_summary.html); 322 is "Server error
    # when processing an API client request" (message-code table).
    async with connected(simulator) as ib:
        errors = _errors(ib)
        request_ids = [ib.client.getReqId() for _ in range(3)]
        for request_id in request_ids:
            ib.client.reqAccountSummary(request_id, "All", "NetLiquidation")  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: bool(errors))
        assert [(request, code) for request, code, _ in errors] == [(request_ids[2], 322)]
        assert "Maximum number of account summary requests exceeded" in errors[0][2]
        ib.client.cancelAccountSummary(request_ids[0])  # type: ignore[no-untyped-call]  # untyped in ib_async
        ib.client.reqAccountSummary(request_ids[2], "All", "NetLiquidation")  # type: ignore[no-untyped-call]  # untyped in ib_async
        await ib.reqCurrentTimeAsync()
        assert len(errors) == 1


async def test_generic_ticks_are_refused_when_unknown_or_asked_of_a_snapshot(
    simulator: Simulator,
) -> None:
    # 321 "Server error when validating an API client request" (message-code table); snapshots
    # return only the default ticks, generic ticks need a streaming request
    # (https://interactivebrokers.github.io/tws-api/md_request.html; IB's client source lists
    # the cause as "Snapshot market data subscription is not applicable to generic ticks").
    async with connected(simulator) as ib:
        errors = _errors(ib)
        [contract] = await _contracts(ib, "AAPL")
        ib.reqMktData(contract, "999")
        await eventually(lambda: len(errors) == 1)
        assert errors[0][1] == 321
        assert "Incorrect generic tick list of 999." in errors[0][2]
        [other] = await _contracts(ib, "MSFT")
        ib.reqMktData(other, "233", snapshot=True)
        await eventually(lambda: len(errors) >= 2)
        assert errors[-1][1] == 321
        assert errors[-1][2].endswith("not applicable to generic ticks")
        assert simulator.status().market_data_lines == 0


async def test_cancelling_a_line_the_gateway_does_not_hold_is_error_300(
    simulator: Simulator,
) -> None:
    # IB's 300: "Can't find EId with tickerId:" (message-code table).
    async with connected(simulator) as ib:
        errors = _errors(ib)
        ib.client.cancelMktData(4242)  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: bool(errors))
        assert errors == [(4242, 300, "Can't find EId with tickerId:4242")]


async def test_historical_pacing_counts_only_bars_of_30_seconds_or_less() -> None:
    # "Pacing Violations for Small Bars (30 secs or less)", "more than 60 requests within any
    # ten minute period"; BID_ASK "is counted twice"
    # (https://interactivebrokers.github.io/tws-api/historical_limitations.html).
    limits = Limits(historical_requests_per_window=3)
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, limits=limits)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        errors = _errors(ib)
        contracts = await _contracts(ib, "AAPL", "MSFT", "KO", "SPY", "QQQ")
        for contract in contracts:
            daily = await ib.reqHistoricalDataAsync(
                contract, "", "1 M", "1 day", "TRADES", useRTH=True
            )
            assert len(daily) > 0
        assert errors == []
        both_sides = await ib.reqHistoricalDataAsync(
            contracts[0], "", "1800 S", "30 secs", "BID_ASK", useRTH=False
        )
        trades = await ib.reqHistoricalDataAsync(
            contracts[1], "", "1800 S", "30 secs", "TRADES", useRTH=False
        )
        assert len(both_sides) > 0
        assert len(trades) > 0
        refused = await ib.reqHistoricalDataAsync(
            contracts[2], "", "1800 S", "5 secs", "TRADES", useRTH=False
        )
        assert len(refused) == 0
        assert [code for _, code, _ in errors] == [162]
        assert "10 minutes" in errors[0][2]
