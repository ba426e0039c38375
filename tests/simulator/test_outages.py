"""IB's hard paths for a connected client: connectivity lost and restored (1100, 1101, 1102)
while the market goes on at IB, and a competing session that takes the market data (10197)."""

from __future__ import annotations

import math

import pytest
from ib_async import IB, Contract, LimitOrder, Stock, Ticker, Trade

from ibkr_simulator import Simulator
from tests.simulator.support import connected, eventually

NO_DATA_TEXT = "No market data during competing live session"


async def _contract(ib: IB, symbol: str) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


async def _streaming(ib: IB, contract: Contract) -> Ticker:
    ticker = ib.reqMktData(contract)
    await eventually(lambda: not math.isnan(ticker.bid))
    return ticker


def _journal(ib: IB) -> list[str]:
    """What reaches the client, in arrival order: notices and order reports."""
    seen: list[str] = []
    ib.errorEvent += lambda _request, code, _text, _contract: seen.append(f"error {code}")
    ib.orderStatusEvent += lambda trade: seen.append(f"status {trade.orderStatus.status}")
    ib.execDetailsEvent += lambda _trade, fill: seen.append(f"execution {fill.execution.shares:g}")
    ib.commissionReportEvent += lambda _trade, _fill, _report: seen.append("commission")
    return seen


async def _resting_buy(ib: IB, simulator: Simulator, contract: Contract) -> Trade:
    simulator.set_price(contract.symbol, 150.0)
    trade = ib.placeOrder(contract, LimitOrder("BUY", 10, 149.0))
    await eventually(lambda: trade.orderStatus.status == "Submitted")
    return trade


async def test_orders_fill_at_ib_during_1100_and_their_reports_follow_the_1102(
    simulator: Simulator,
) -> None:
    # IB's message codes: 1100 "Connectivity between IB and the TWS has been lost" (a
    # connectivity issue, the nightly reset or a competing session); 1102 "restored - data
    # maintained": "Your market data requests have been recovered and there is no need for you
    # to re-submit them". During a reset "Existing orders (native types) will operate normally
    # although execution reports and simulated orders will be delayed until the reset is
    # complete" (https://interactivebrokers.github.io/tws-api/message_codes.html).
    async with connected(simulator) as ib:
        contract = await _contract(ib, "AAPL")
        trade = await _resting_buy(ib, simulator, contract)
        ticker = await _streaming(ib, contract)
        journal = _journal(ib)
        simulator.connectivity_lost()
        await eventually(lambda: journal == ["error 1100"])
        bid = ticker.bid
        before = simulator.quote("AAPL").midpoint
        await simulator.step(20)
        assert simulator.quote("AAPL").midpoint != before  # the market moves at IB
        simulator.set_price("AAPL", 148.0)  # the resting buy fills at IB
        await ib.reqCurrentTimeAsync()
        assert simulator.status().open_orders == 0
        assert simulator.status().held_order_reports > 0
        assert journal == ["error 1100"]
        assert trade.orderStatus.status == "Submitted"
        assert trade.fills == []
        assert ticker.bid == bid
        simulator.connectivity_restored()
        await eventually(lambda: trade.orderStatus.status == "Filled")
        await eventually(lambda: journal[-1] == "commission")
        assert journal[:2] == ["error 1100", "error 1102"]
        assert set(journal[2:]) == {"status Filled", "execution 10", "commission"}
        assert sum(fill.execution.shares for fill in trade.fills) == 10
        assert simulator.status().held_order_reports == 0
        await simulator.step(20)  # the line was kept: it ticks again
        await eventually(lambda: ticker.bid != bid)


async def test_reports_held_during_1100_arrive_in_the_order_they_happened(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        apple = await _contract(ib, "AAPL")
        microsoft = await _contract(ib, "MSFT")
        simulator.set_price("MSFT", 400.0)
        first = await _resting_buy(ib, simulator, apple)
        second = ib.placeOrder(microsoft, LimitOrder("SELL", 5, 401.0))
        await eventually(lambda: second.orderStatus.status == "Submitted")
        fills: list[str] = []
        ib.execDetailsEvent += lambda _trade, fill: fills.append(fill.contract.symbol)
        simulator.connectivity_lost()
        simulator.set_price("MSFT", 402.0)
        simulator.set_price("AAPL", 148.0)
        await ib.reqCurrentTimeAsync()
        assert fills == []
        simulator.connectivity_restored()
        await eventually(lambda: first.isDone() and second.isDone())
        assert fills == ["MSFT", "AAPL"]
        times = [trade.fills[0].execution.time for trade in (second, first)]
        assert times == sorted(times)


async def test_1101_drops_market_data_but_delivers_the_order_reports(
    simulator: Simulator,
) -> None:
    # 1101 "restored - data lost": "Your market data requests have been lost and need to be
    # re-submitted" (message_codes.html). Orders are not market data: their reports come.
    async with connected(simulator) as ib:
        contract = await _contract(ib, "AAPL")
        trade = await _resting_buy(ib, simulator, contract)
        ticker = await _streaming(ib, contract)
        journal = _journal(ib)
        simulator.connectivity_lost()
        simulator.set_price("AAPL", 148.0)
        simulator.connectivity_restored(data_lost=True)
        await eventually(lambda: trade.orderStatus.status == "Filled")
        await eventually(lambda: journal[-1] == "commission")
        assert journal[:2] == ["error 1100", "error 1101"]
        assert simulator.status().market_data_lines == 0
        bid = ticker.bid
        await simulator.step(20)
        await ib.reqCurrentTimeAsync()
        assert ticker.bid == bid
        ib.cancelMktData(contract)
        again = await _streaming(ib, contract)
        await simulator.step(20)
        await eventually(lambda: again.bid != bid)


async def test_a_client_that_reconnects_during_the_outage_hears_the_reports_at_the_restore(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib, "AAPL")
        trade = await _resting_buy(ib, simulator, contract)
        order_id = trade.order.orderId
        simulator.connectivity_lost()
        simulator.set_price("AAPL", 148.0)
    async with connected(simulator) as again:
        statuses: list[tuple[int, str]] = []
        again.orderStatusEvent += lambda t: statuses.append((t.order.orderId, t.orderStatus.status))
        simulator.connectivity_restored()
        await eventually(lambda: (order_id, "Filled") in statuses)


async def test_a_competing_session_freezes_the_lines_and_refuses_new_requests_with_10197(
    simulator: Simulator,
) -> None:
    # 10197 "No market data during competing session": the user is logged in elsewhere and
    # that session gets the market data (IB's API error codes,
    # https://ibkrcampus.com/campus/ibkr-api-page/twsapi-doc/#api-error-codes). Gateways send
    # it as "No market data during competing live session" (a published log:
    # https://github.com/quantverse/ptltrader/issues/1), per request.
    async with connected(simulator) as ib:
        apple = await _contract(ib, "AAPL")
        microsoft = await _contract(ib, "MSFT")
        ticker = await _streaming(ib, apple)
        errors: list[tuple[int, int, str]] = []
        ib.errorEvent += lambda request, code, text, _contract: errors.append((request, code, text))
        simulator.start_competing_session()
        assert simulator.status().competing_session
        bid = ticker.bid
        await simulator.step(20)
        refused = ib.reqMktData(microsoft)
        ib.reqTickByTickData(microsoft, "BidAsk")
        await eventually(lambda: len(errors) == 2)
        request_ids = [request for request, _, _ in errors]
        assert ib.wrapper.reqId2Ticker[request_ids[0]] is refused
        assert [(code, text) for _, code, text in errors] == [(10197, NO_DATA_TEXT)] * 2
        assert len(set(request_ids)) == 2
        assert ticker.bid == bid
        assert math.isnan(refused.bid)
        simulator.end_competing_session()
        await simulator.step(20)
        await eventually(lambda: ticker.bid != bid)
        ib.cancelMktData(microsoft)  # the refused request holds no line: 300 for its cancel
        resumed = await _streaming(ib, microsoft)
        assert not math.isnan(resumed.ask)
        assert [code for _, code, _ in errors] == [10197, 10197, 300]


@pytest.mark.parametrize("data_lost", [False, True])
async def test_account_values_wait_for_the_restore(simulator: Simulator, data_lost: bool) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib, "AAPL")
        await _resting_buy(ib, simulator, contract)
        positions: list[float] = []
        ib.positionEvent += lambda position: positions.append(position.position)
        simulator.connectivity_lost()
        simulator.set_price("AAPL", 148.0)
        await ib.reqCurrentTimeAsync()
        assert positions == []
        simulator.connectivity_restored(data_lost=data_lost)
        await eventually(lambda: positions[-1:] == [10.0])
