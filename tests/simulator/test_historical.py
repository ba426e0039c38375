"""Historical bars: sizes and durations, consistency with live prices, keepUpToDate, pacing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, BarData, Contract, Forex, Stock

from ibkr_simulator import Limits, Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


async def _contract(ib: IB, symbol: str = "AAPL") -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


def _errors(ib: IB) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    ib.errorEvent += lambda _request, code, text, _contract: seen.append((code, text))
    return seen


# The simulated clock stands at Tuesday, March 3, 2026, 10:00 New York (TRADING_MORNING).
@pytest.mark.parametrize(
    ("duration", "bar_size", "expected_bars", "step"),
    [
        ("60 S", "5 secs", 12, dt.timedelta(seconds=5)),
        # Monday 09:30, 10:00 ... 15:00 and Tuesday 09:30, 10:00: RTH hour bars start at the open.
        ("2 D", "1 hour", 9, dt.timedelta(minutes=30)),
        ("1800 S", "1 min", 30, dt.timedelta(minutes=1)),
        # February 17 to March 3: 11 trading days (no weekends; Feb 16 was Washington's Birthday).
        ("2 W", "1 day", 11, dt.timedelta(days=1)),
    ],
)
async def test_bars_cover_the_duration_and_end_at_the_live_price(
    simulator: Simulator,
    duration: str,
    bar_size: str,
    expected_bars: int,
    step: dt.timedelta,
) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        bars = await ib.reqHistoricalDataAsync(
            contract, "", duration, bar_size, "TRADES", useRTH=True
        )
        assert expected_bars <= len(bars) <= expected_bars + 1
        assert bars[-1].close == simulator.quote("AAPL").last
        assert bars[1].date - bars[0].date == step
        for bar in bars:
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.volume > 0
        if isinstance(bars[-1].date, dt.datetime):
            assert bars[-1].date.tzinfo is not None


async def test_midpoint_bars_and_epoch_dates(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib, "SPY")
        end = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
        bars = await ib.reqHistoricalDataAsync(
            contract, end, "3600 S", "5 mins", "MIDPOINT", useRTH=False, formatDate=2
        )
        assert len(bars) == 13
        assert bars[-1].date == end
        assert bars[0].date == end - dt.timedelta(hours=1)
        assert all(bar.volume == bar.average == bar.barCount == -1 for bar in bars)


async def test_keep_up_to_date_streams_the_current_bar_every_four_to_six_seconds(
    simulator: Simulator,
) -> None:
    # keepUpToDate returns "updates of unfinished real time bars as they are available"
    # (EClient.reqHistoricalData, https://interactivebrokers.github.io/tws-api/historical_bars.html);
    # live gateways send them every 4 to 6 seconds (issue #13), not on every trade. Every
    # step goes into the bar; the client sees it at the next update.
    assert SimulatorConfig().bar_update_seconds == (4.0, 6.0)
    simulator.set_clock_speed(0)
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        bars = await ib.reqHistoricalDataAsync(
            contract, "", "300 S", "1 min", "TRADES", useRTH=False, keepUpToDate=True
        )
        updates: list[bool] = []
        bars.updateEvent += lambda _bars, has_new_bar: updates.append(has_new_bar)
        simulator.set_price("AAPL", 205.0)
        simulator.set_price("AAPL", 204.0)
        await ib.reqCurrentTimeAsync()
        assert updates == []
        simulator.advance(3.9)
        simulator.set_price("AAPL", 204.5)
        await ib.reqCurrentTimeAsync()
        assert updates == []
        simulator.advance(2.2)
        simulator.set_price("AAPL", 204.25)
        await eventually(lambda: len(updates) == 1)
        assert bars[-1].close == 204.25
        assert bars[-1].high >= 205.0
        simulator.set_price("AAPL", 204.0)
        await ib.reqCurrentTimeAsync()
        assert len(updates) == 1
        ib.cancelHistoricalData(bars)


async def test_tests_can_ask_for_an_update_on_every_step() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, bar_update_seconds=(0.0, 0.0)
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        contract = await _contract(ib)
        bars = await ib.reqHistoricalDataAsync(
            contract, "", "300 S", "1 min", "MIDPOINT", useRTH=False, keepUpToDate=True
        )
        simulator.set_price("AAPL", 205.0)
        await eventually(lambda: bars[-1].close == 205.0)
        simulator.set_price("AAPL", 206.0)
        await eventually(lambda: bars[-1].close == 206.0)
        ib.cancelHistoricalData(bars)


async def test_forex_has_no_trades_history_and_bad_requests_get_162(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        errors = _errors(ib)
        [pair] = await ib.qualifyContractsAsync(Forex("EURUSD"))
        assert isinstance(pair, Contract)
        assert (
            len(await ib.reqHistoricalDataAsync(pair, "", "1 D", "1 hour", "TRADES", useRTH=False))
            == 0
        )
        midpoints = await ib.reqHistoricalDataAsync(
            pair, "", "1 D", "1 hour", "MIDPOINT", useRTH=False
        )
        # Forex's day began at 17:00 New York the evening before: 17 hours to 10:00.
        assert len(midpoints) == 18
        contract = await _contract(ib)
        bad_size = await ib.reqHistoricalDataAsync(
            contract, "", "1 D", "7 mins", "TRADES", useRTH=False
        )
        too_long = await ib.reqHistoricalDataAsync(
            contract, "", "1 Y", "1 secs", "TRADES", useRTH=False
        )
        # BarDataList compares by identity, so emptiness is checked by length.
        assert len(bad_size) == len(too_long) == 0
        assert [code for code, _ in errors] == [162, 162, 162]
        assert "Time length exceed max" in errors[-1][1]


async def test_historical_pacing_violations_get_162() -> None:
    limits = Limits(historical_same_contract_count=3)
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, limits=limits)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        # IB paces bars of 30 seconds or less
        # (https://interactivebrokers.github.io/tws-api/historical_limitations.html).
        errors = _errors(ib)
        contract = await _contract(ib)
        first = await ib.reqHistoricalDataAsync(
            contract, "", "1800 S", "30 secs", "TRADES", useRTH=False
        )
        assert first
        identical = await ib.reqHistoricalDataAsync(
            contract, "", "1800 S", "30 secs", "TRADES", useRTH=False
        )
        assert len(identical) == 0
        assert "identical request" in errors[-1][1]
        burst = await ib.reqHistoricalDataAsync(
            contract, "", "3600 S", "30 secs", "TRADES", useRTH=False
        )
        assert len(burst) == 0
        assert [code for code, _ in errors] == [162, 162]
        assert "same contract" in errors[-1][1]


# Bars by the trading calendar: IB returns bars only for the hours an instrument trades; useRTH=1
# keeps regular trading hours (https://interactivebrokers.github.io/tws-api/historical_bars.html:
# "useRTH: set to 0 to obtain the data which was also generated outside of the Regular Trading
# Hours, set to 1 to obtain only the RTH data").

NEW_YORK = ZoneInfo("America/New_York")


def _local_times(bars: list[BarData]) -> list[dt.time]:
    return [
        bar.date.astimezone(NEW_YORK).time() for bar in bars if isinstance(bar.date, dt.datetime)
    ]


async def test_regular_hours_bars_lie_between_the_open_and_the_close(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        end = dt.datetime(2026, 3, 3, 21, 0, tzinfo=dt.UTC)  # Tuesday 16:00 New York
        bars = await ib.reqHistoricalDataAsync(
            contract, end, "1 W", "1 hour", "TRADES", useRTH=True
        )
        times = _local_times(bars)
        assert min(times) == dt.time(9, 30)
        assert max(times) == dt.time(15, 0)
        assert times[:3] == [dt.time(9, 30), dt.time(10, 0), dt.time(11, 0)]
        days = {
            bar.date.astimezone(NEW_YORK).date()
            for bar in bars
            if isinstance(bar.date, dt.datetime)
        }
        # Wednesday February 25 to Tuesday March 3: no Saturday or Sunday.
        assert all(day.weekday() < 5 for day in days)
        assert len(bars) == 5 * 7


async def test_outside_regular_hours_bars_cover_the_extended_sessions_only(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        end = dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC)  # Tuesday 20:00 New York
        bars = await ib.reqHistoricalDataAsync(
            contract, end, "1 D", "1 hour", "TRADES", useRTH=False
        )
        times = _local_times(bars)
        # One extended session, 04:00 to 20:00: hour bars from 04:00 to 19:00, none at night.
        assert times == [dt.time(hour) for hour in range(4, 20)]


async def test_daily_bars_skip_weekends_and_holidays(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _contract(ib)
        end = dt.datetime(2026, 4, 7, 21, 0, tzinfo=dt.UTC)  # Tuesday after Good Friday
        bars = await ib.reqHistoricalDataAsync(
            contract, end, "10 D", "1 day", "TRADES", useRTH=True
        )
        days = [bar.date for bar in bars]
        assert dt.date(2026, 4, 3) not in days  # Good Friday
        assert all(isinstance(day, dt.date) and day.weekday() < 5 for day in days)
        assert len(days) == 10
        assert days[-1] == dt.date(2026, 4, 7)


async def test_on_a_sunday_one_day_of_bars_is_fridays_session(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contract = await _contract(ib)
        sunday = dt.datetime(2026, 3, 8, 18, 0, tzinfo=dt.UTC)
        bars = await ib.reqHistoricalDataAsync(
            contract, sunday, "1 D", "30 mins", "TRADES", useRTH=True
        )
        assert {
            bar.date.astimezone(NEW_YORK).date()
            for bar in bars
            if isinstance(bar.date, dt.datetime)
        } == {dt.date(2026, 3, 6)}
        assert len(bars) == 13
        empty = await ib.reqHistoricalDataAsync(
            contract, sunday, "3600 S", "1 min", "TRADES", useRTH=False
        )
        assert len(empty) == 0
        assert "HMDS query returned no data" in errors[-1][1]
