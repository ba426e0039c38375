"""Market data: streaming top of book and trades, snapshots, cancel, data types, tick-by-tick, limits."""

from __future__ import annotations

import asyncio
import math

import pytest
from ib_async import (
    IB,
    Contract,
    Forex,
    Stock,
    TickByTickAllLast,
    TickByTickBidAsk,
    TickByTickMidPoint,
    Ticker,
)

from ibkr_simulator import Limits, Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


async def _qualified(ib: IB, contract: Contract) -> Contract:
    [qualified] = await ib.qualifyContractsAsync(contract)
    assert isinstance(qualified, Contract)
    return qualified


def _has_book(ticker: Ticker) -> bool:
    return not math.isnan(ticker.bid) and not math.isnan(ticker.ask) and ticker.bid > 0


async def test_streams_top_of_book_trades_and_rt_volume(streaming_simulator: Simulator) -> None:
    async with connected(streaming_simulator) as ib:
        contract = await _qualified(ib, Stock("AAPL", "SMART", "USD"))
        ticker = ib.reqMktData(contract, "233")
        updates: list[float] = []
        ticker.updateEvent += lambda updated: updates.append(updated.last)
        await eventually(lambda: _has_book(ticker) and len(updates) >= 10 and ticker.volume > 0)
        assert ticker.bid < ticker.ask
        assert ticker.bidSize > 0
        assert ticker.askSize > 0
        assert ticker.last > 0
        assert ticker.lastSize > 0
        assert ticker.high >= ticker.low > 0
        assert ticker.close == 190.0
        assert ticker.rtVolume > 0
        assert ticker.lastTimestamp is not None
        assert ticker.minTick == 0.01
        await eventually(lambda: ticker.volume > updates.count(updates[0]))


async def test_forex_streams_a_book_without_trades(streaming_simulator: Simulator) -> None:
    async with connected(streaming_simulator) as ib:
        contract = await _qualified(ib, Forex("EURUSD"))
        ticker = ib.reqMktData(contract)
        await eventually(lambda: _has_book(ticker))
        assert 1.0 < ticker.bid < ticker.ask < 1.2
        assert math.isnan(ticker.last)


async def test_snapshot_returns_a_full_ticker() -> None:
    # A shorter snapshot end than IB's 11 s (see the next test), so the request ends quickly.
    config = SimulatorConfig(port=0, tick_rate=0, snapshot_end_seconds=0.2)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        contract = await _qualified(ib, Stock("SPY", "SMART", "USD"))
        [ticker] = await ib.reqTickersAsync(contract)
        assert _has_book(ticker)
        assert ticker.last == 520.0
        assert simulator.status().market_data_lines == 0


async def test_a_snapshot_sends_its_ticks_at_once_and_ends_after_11_seconds(
    simulator: Simulator,
) -> None:
    # IB ends a snapshot with tickSnapshotEnd about 11 seconds after the request, while its
    # ticks come at once (https://interactivebrokers.github.io/tws-api/md_request.html).
    assert SimulatorConfig().snapshot_end_seconds == 11.0
    async with connected(simulator) as ib:
        contract = await _qualified(ib, Stock("SPY", "SMART", "USD"))
        request = asyncio.ensure_future(ib.reqTickersAsync(contract))
        await eventually(lambda: (ticker := ib.ticker(contract)) is not None and _has_book(ticker))
        # Not ended a second later: reqTickersAsync is still waiting for tickSnapshotEnd.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(request), 1.0)
        request.cancel()


async def test_cancel_stops_the_stream(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _qualified(ib, Stock("IBM", "SMART", "USD"))
        ticker = ib.reqMktData(contract)
        await eventually(lambda: _has_book(ticker))
        assert simulator.status().market_data_lines == 1
        ib.cancelMktData(contract)
        await eventually(lambda: simulator.status().market_data_lines == 0)
        bid = ticker.bid
        simulator.set_price("IBM", 250.0)
        await simulator.step(3)
        assert ticker.bid == bid


async def test_same_seed_gives_the_same_prices() -> None:
    async def bids_after_steps(seed: int) -> list[float]:
        config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, seed=seed)
        async with Simulator(config) as simulator, connected(simulator) as ib:
            contract = await _qualified(ib, Stock("NVDA", "SMART", "USD"))
            ticker = ib.reqMktData(contract)
            await eventually(lambda: _has_book(ticker))
            seen: list[float] = []
            for _ in range(20):
                await simulator.step()
                expected = simulator.quote("NVDA").bid
                await eventually(lambda expected=expected: ticker.bid == expected)  # type: ignore[misc]
                seen.append(ticker.bid)
            return seen

    first = await bids_after_steps(11)
    assert first == await bids_after_steps(11)
    assert first != await bids_after_steps(12)


async def test_delayed_data_when_live_permissions_are_missing() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, market_data_subscribed=False
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda _request, code, _text, _contract: errors.append(code)
        contract = await _qualified(ib, Stock("KO", "SMART", "USD"))
        ib.reqMktData(contract)
        await eventually(lambda: 354 in errors)
        ib.cancelMktData(contract)
        ib.reqMarketDataType(3)
        ticker = ib.reqMktData(contract)
        await eventually(lambda: _has_book(ticker) and ticker.marketDataType == 3)
        assert {tick.tickType for tick in ticker.ticks} & {66, 67, 68}


async def test_the_line_limit_answers_error_101() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, limits=Limits(market_data_lines=2)
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda _request, code, _text, _contract: errors.append(code)
        contracts = [
            await _qualified(ib, Stock(symbol, "SMART", "USD")) for symbol in ("KO", "WMT", "DIS")
        ]
        tickers = [ib.reqMktData(contract) for contract in contracts]
        await eventually(lambda: errors == [101])
        await eventually(lambda: _has_book(tickers[0]) and _has_book(tickers[1]))
        assert math.isnan(tickers[2].bid)


async def test_tick_by_tick_bid_ask_last_and_midpoint(streaming_simulator: Simulator) -> None:
    async with connected(streaming_simulator) as ib:
        contract = await _qualified(ib, Stock("TSLA", "SMART", "USD"))
        seen: list[object] = []
        # ib_async shares one Ticker per contract and resets tickByTicks on every update.
        ticker = ib.reqTickByTickData(contract, "BidAsk")
        ticker.updateEvent += lambda updated: seen.extend(updated.tickByTicks)
        ib.reqTickByTickData(contract, "Last")
        ib.reqTickByTickData(contract, "MidPoint")

        def count(kind: type) -> int:
            return sum(isinstance(tick, kind) for tick in seen)

        await eventually(
            lambda: (
                count(TickByTickBidAsk) >= 3
                and count(TickByTickAllLast) >= 3
                and count(TickByTickMidPoint) >= 3
            )
        )
        quote = next(tick for tick in seen if isinstance(tick, TickByTickBidAsk))
        assert 0 < quote.bidPrice < quote.askPrice
        trade = next(tick for tick in seen if isinstance(tick, TickByTickAllLast))
        assert trade.price > 0
        assert trade.exchange == "NASDAQ"
        assert trade.tickType == 1


async def test_tick_by_tick_cancel_stops_the_ticks(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _qualified(ib, Stock("AMD", "SMART", "USD"))
        seen: list[object] = []
        ticker = ib.reqTickByTickData(contract, "MidPoint")
        ticker.updateEvent += lambda updated: seen.extend(updated.tickByTicks)
        await eventually(lambda: len(seen) == 1)
        simulator.set_price("AMD", 170.0)
        await eventually(lambda: len(seen) == 2)
        ib.cancelTickByTickData(contract, "MidPoint")
        await ib.reqCurrentTimeAsync()
        simulator.set_price("AMD", 171.0)
        await ib.reqCurrentTimeAsync()
        assert len(seen) == 2
