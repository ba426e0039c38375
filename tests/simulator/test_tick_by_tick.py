"""Tick-by-tick data (reqTickByTickData) as IB defines it, received with ib_async.

IB (Tick By Tick Data, https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/):
tickType "Last", "AllLast", "BidAsk" or "MidPoint"; tickByTickAllLast's tickType is "1: Last
or 2: AllLast"; ignoreSize "omit[s] updates that reflect only changes in size, and not price.
Applicable to Bid_Ask data requests"; "Real time tick-by-tick data is currently not available
for options". The cap (five at 100 lines) is in test_request_limits.py.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

from ib_async import (
    IB,
    Contract,
    Stock,
    TickByTickAllLast,
    TickByTickBidAsk,
    TickByTickMidPoint,
    Ticker,
)

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


async def _stock(ib: IB, symbol: str) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


def _recorded(ticker: Ticker) -> list[object]:
    """Every tick of a ticker: ib_async empties tickByTicks after each update event."""
    seen: list[object] = []
    ticker.updateEvent += lambda updated: seen.extend(updated.tickByTicks)
    return seen


async def test_last_and_all_last_follow_the_trades(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        apple, microsoft = await _stock(ib, "AAPL"), await _stock(ib, "MSFT")
        last = _recorded(ib.reqTickByTickData(apple, "Last"))
        every = _recorded(ib.reqTickByTickData(microsoft, "AllLast"))
        await ib.reqCurrentTimeAsync()  # the requests have reached the gateway
        # A trade at a set price reaches both, with its size and the listing exchange.
        simulator.set_price("AAPL", 201.5)
        simulator.set_price("MSFT", 402.25)
        await eventually(lambda: bool(last) and bool(every))
        [trade] = last
        assert isinstance(trade, TickByTickAllLast)
        quote = simulator.quote("AAPL")
        assert (trade.tickType, trade.price, trade.size) == (1, 201.5, quote.last_size)
        assert trade.exchange == "NASDAQ"
        [all_last] = every
        assert isinstance(all_last, TickByTickAllLast)
        assert (all_last.tickType, all_last.price) == (2, 402.25)
        # A step without a trade sends no trade tick.
        for _ in range(20):
            before = len(last)
            await simulator.step()
            await ib.reqCurrentTimeAsync()
            assert len(last) == before + int(simulator.quote("AAPL").traded)


async def test_bid_ask_and_midpoint_tick_on_every_change_of_the_book(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _stock(ib, "AMD")
        quotes = _recorded(ib.reqTickByTickData(contract, "BidAsk"))
        await eventually(lambda: len(quotes) == 1)
        for _ in range(5):
            await simulator.step()
            await eventually(lambda: _last_quote(quotes) == _book(simulator, "AMD"))
        assert all(isinstance(tick, TickByTickBidAsk) for tick in quotes)

    async with connected(simulator) as ib:
        contract = await _stock(ib, "AMD")
        midpoints = _recorded(ib.reqTickByTickData(contract, "MidPoint"))
        await ib.reqCurrentTimeAsync()
        simulator.set_price("AMD", 170.0)
        await eventually(lambda: bool(midpoints) and _last_mid(midpoints) == 170.0)


def _book(simulator: Simulator, symbol: str) -> tuple[float, float, float, float]:
    quote = simulator.quote(symbol)
    return (quote.bid, quote.ask, quote.bid_size, quote.ask_size)


def _last_quote(ticks: list[object]) -> tuple[float, float, float, float] | None:
    tick = ticks[-1]
    assert isinstance(tick, TickByTickBidAsk)
    return (tick.bidPrice, tick.askPrice, tick.bidSize, tick.askSize)


def _last_mid(ticks: list[object]) -> float:
    tick = ticks[-1]
    assert isinstance(tick, TickByTickMidPoint)
    return tick.midPoint


async def test_ignore_size_sends_bid_ask_only_when_a_price_moves(simulator: Simulator) -> None:
    # Two clients: ib_async keeps one Ticker per contract for all of a client's requests.
    async with connected(simulator) as ib, connected(simulator, client_id=2) as other:
        contract = await _stock(ib, "INTC")
        sized = _recorded(ib.reqTickByTickData(contract, "BidAsk"))
        priced = _recorded(other.reqTickByTickData(contract, "BidAsk", ignoreSize=True))
        await eventually(lambda: len(sized) == len(priced) == 1)
        moves = 0
        previous = _book(simulator, "INTC")
        for _ in range(40):
            await simulator.step()
            book = _book(simulator, "INTC")
            moves += book[:2] != previous[:2]
            previous = book
        await eventually(lambda: _last_quote(sized) == _book(simulator, "INTC"))
        await other.reqCurrentTimeAsync()
        assert len(priced) == 1 + moves
        assert len(sized) > len(priced)
        prices = [
            (tick.bidPrice, tick.askPrice) for tick in priced if isinstance(tick, TickByTickBidAsk)
        ]
        assert all(earlier != later for earlier, later in pairwise(prices))


async def test_cancel_stops_the_ticks(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _stock(ib, "TSLA")
        ticks = _recorded(ib.reqTickByTickData(contract, "MidPoint"))
        await eventually(lambda: len(ticks) == 1)
        ib.cancelTickByTickData(contract, "MidPoint")
        await ib.reqCurrentTimeAsync()
        simulator.set_price("TSLA", 250.0)
        await simulator.step(5)
        await ib.reqCurrentTimeAsync()
        assert len(ticks) == 1


async def test_options_have_no_real_time_tick_by_tick(tmp_path: Path) -> None:
    # An option listed through a contract file (the simulator's own listing may add more).
    listing = tmp_path / "option.json"
    option = {
        "con_id": 900_000_001,
        "symbol": "AAPL",
        "sec_type": "OPT",
        "exchange": "SMART",
        "local_symbol": "AAPL  261218C00200000",
        "initial_price": 12.5,
        "valid_exchanges": ["SMART", "CBOE"],
    }
    listing.write_text(json.dumps([option]))
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, contract_files=(listing,)
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        errors: list[tuple[int, str]] = []
        ib.errorEvent += lambda _request, code, text, _contract: errors.append((code, text))
        ib.reqTickByTickData(Contract(conId=900_000_001, exchange="SMART"), "Last")
        await eventually(lambda: bool(errors))
        [(code, text)] = errors
        assert code == 10189
        assert text == (
            "Failed to request tick-by-tick data.Last tick-by-tick requests are not supported"
            " for AAPL."
        )
