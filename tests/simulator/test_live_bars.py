"""Live bars: five-second real-time bars and keepUpToDate historical bars, with ib_async.

Real-time bars (Real Time Bars, https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/):
"a single bar in real time every five seconds that has the OHLC values over that period";
time is "the bar's start date and time"; volume "only returned for TRADES data"; WAP "rounded
to minimum increment (only available for TRADES)"; count "only available for TRADES"; useRTH 1
"to obtain only the RTH data". keepUpToDate (EClient.reqHistoricalData,
https://interactivebrokers.github.io/tws-api/historical_bars.html) adds "updates of unfinished
real time bars as they are available" after the history, and needs an empty endDateTime.
"""

from __future__ import annotations

import datetime as dt

from ib_async import IB, Contract, Stock

from ibkr_simulator import Simulator
from ibkr_simulator.prices import round_to_tick
from ibkr_simulator.trading_calendar import NEW_YORK
from tests.simulator.support import connected, eventually


async def _stock(ib: IB, symbol: str) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


async def test_a_trades_bar_sums_its_trades_and_weights_its_average(
    simulator: Simulator,
) -> None:
    simulator.set_clock_speed(0)
    simulator.advance(0.5)  # 10:00:00.5 New York, inside the 10:00:00 bar
    async with connected(simulator) as ib:
        contract = await _stock(ib, "IBM")
        bars = ib.reqRealTimeBars(contract, 5, "TRADES", useRTH=True)
        await ib.reqCurrentTimeAsync()
        trades: list[tuple[float, float]] = []
        for price, seconds in ((186.0, 1.0), (187.5, 1.5), (185.25, 1.0)):
            simulator.set_price("IBM", price)
            trades.append((price, simulator.quote("IBM").last_size))
            simulator.advance(seconds)
        await ib.reqCurrentTimeAsync()
        assert len(bars) == 0  # 10:00:04: the bar is still open
        simulator.advance(1.0)
        simulator.set_price("IBM", 190.0)  # the first price of the 10:00:05 bar closes it
        await eventually(lambda: len(bars) == 1)
        [bar] = bars
        assert bar.time == dt.datetime(2026, 3, 3, 10, 0, tzinfo=NEW_YORK)
        assert (bar.open_, bar.high, bar.low, bar.close) == (186.0, 187.5, 185.25, 185.25)
        volume = sum(size for _, size in trades)
        assert (bar.volume, bar.count) == (volume, 3)
        assert bar.wap == round_to_tick(sum(price * size for price, size in trades) / volume, 0.01)
        ib.cancelRealTimeBars(bars)
        await ib.reqCurrentTimeAsync()
        simulator.advance(5.0)
        simulator.set_price("IBM", 191.0)
        await ib.reqCurrentTimeAsync()
        assert len(bars) == 1


async def test_quote_bars_have_no_volume_average_or_count(simulator: Simulator) -> None:
    simulator.set_clock_speed(0)
    async with connected(simulator) as ib:
        contract = await _stock(ib, "KO")
        bars = ib.reqRealTimeBars(contract, 5, "MIDPOINT", useRTH=False)
        await ib.reqCurrentTimeAsync()
        midpoint = round(simulator.set_price("KO", 61.0).midpoint, 8)  # as the wire rounds it
        simulator.advance(5.0)
        simulator.set_price("KO", 61.5)
        await eventually(lambda: len(bars) == 1)
        assert (bars[0].volume, bars[0].wap, bars[0].count) == (-1, -1, -1)
        assert bars[0].open_ == bars[0].close == midpoint


async def test_regular_hours_bars_wait_for_the_open(simulator: Simulator) -> None:
    simulator.set_clock_speed(0)
    simulator.set_time(dt.datetime(2026, 3, 3, 8, 0, 1, tzinfo=NEW_YORK))  # pre-market
    async with connected(simulator) as ib:
        contract = await _stock(ib, "SPY")
        regular = ib.reqRealTimeBars(contract, 5, "TRADES", useRTH=True)
        extended = ib.reqRealTimeBars(contract, 5, "TRADES", useRTH=False)
        await ib.reqCurrentTimeAsync()
        for _ in range(3):
            simulator.set_price("SPY", 500.0)
            simulator.advance(5.0)
        simulator.set_price("SPY", 501.0)
        await eventually(lambda: len(extended) == 3)
        assert len(regular) == 0


async def test_keep_up_to_date_finishes_each_bar_before_the_next(simulator: Simulator) -> None:
    simulator.set_clock_speed(0)  # Tuesday 10:00:00 New York
    async with connected(simulator) as ib:
        contract = await _stock(ib, "AAPL")
        bars = await ib.reqHistoricalDataAsync(
            contract, "", "300 S", "1 min", "TRADES", useRTH=True, keepUpToDate=True
        )
        start = dt.datetime(2026, 3, 3, 10, 0, tzinfo=NEW_YORK)
        assert bars[-1].date == start
        updates: list[bool] = []
        bars.updateEvent += lambda _bars, has_new_bar: updates.append(has_new_bar)
        simulator.advance(30)
        simulator.set_price("AAPL", 205.0)  # past the first update time (4-6 s): sent
        await eventually(lambda: updates == [False])
        assert bars[-1].close == 205.0
        simulator.advance(1)
        simulator.set_price("AAPL", 204.0)  # too soon for another update: held
        await ib.reqCurrentTimeAsync()
        assert updates == [False]
        simulator.advance(30)  # 10:01:01: the 10:00 bar is over
        simulator.set_price("AAPL", 206.0)
        await eventually(lambda: updates == [False, False, True])
        finished, current = bars[-2], bars[-1]
        assert finished.date == start
        assert finished.close == 204.0
        assert finished.high >= 205.0
        assert current.date == start + dt.timedelta(minutes=1)
        assert current.open == current.close == 206.0
        ib.cancelHistoricalData(bars)
        await ib.reqCurrentTimeAsync()
        for _ in range(3):
            simulator.advance(10)
            simulator.set_price("AAPL", 207.0)
        await ib.reqCurrentTimeAsync()
        assert len(updates) == 3
