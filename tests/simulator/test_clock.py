"""An injected clock drives every timestamp the gateway sends: executions, current time, bars."""

from __future__ import annotations

import datetime as dt

from ib_async import Contract, MarketOrder, Stock

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


async def test_timestamps_follow_the_injected_utc_clock() -> None:
    clock = ManualClock(dt.datetime(2026, 3, 2, 14, 30, 5, tzinfo=dt.UTC))
    config = SimulatorConfig(port=0, tick_rate=0)
    async with Simulator(config, clock=clock) as simulator, connected(simulator) as ib:
        assert await ib.reqCurrentTimeAsync() == clock.now
        [contract] = await ib.qualifyContractsAsync(Stock("QQQ", "SMART", "USD"))
        assert isinstance(contract, Contract)
        clock.now += dt.timedelta(minutes=5)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 1))
        await eventually(lambda: bool(trade.fills))
        assert trade.fills[0].execution.time == dt.datetime(2026, 3, 2, 14, 35, 5, tzinfo=dt.UTC)
        bars = await ib.reqHistoricalDataAsync(
            contract, "", "600 S", "1 min", "TRADES", useRTH=False
        )
        assert bars[-1].date == dt.datetime(2026, 3, 2, 14, 35, tzinfo=dt.UTC)


async def test_real_time_bars_close_every_five_seconds_of_the_clock() -> None:
    clock = ManualClock(dt.datetime(2026, 3, 2, 14, 30, 1, tzinfo=dt.UTC))
    config = SimulatorConfig(port=0, tick_rate=0)
    async with Simulator(config, clock=clock) as simulator, connected(simulator) as ib:
        [contract] = await ib.qualifyContractsAsync(Stock("IBM", "SMART", "USD"))
        assert isinstance(contract, Contract)
        bars = ib.reqRealTimeBars(contract, 5, "TRADES", useRTH=False)
        await ib.reqCurrentTimeAsync()
        simulator.set_price("IBM", 186.0)
        clock.now += dt.timedelta(seconds=2)
        simulator.set_price("IBM", 187.0)
        await ib.reqCurrentTimeAsync()
        assert len(bars) == 0
        clock.now += dt.timedelta(seconds=3)
        simulator.set_price("IBM", 185.5)
        await eventually(lambda: len(bars) == 1)
        [bar] = bars
        assert bar.time == dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
        assert (bar.open_, bar.high, bar.low, bar.close) == (186.0, 187.0, 186.0, 187.0)
        assert bar.volume > 0
        ib.cancelRealTimeBars(bars)


async def test_head_timestamp_is_an_aware_utc_datetime(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        [contract] = await ib.qualifyContractsAsync(Stock("IBM", "SMART", "USD"))
        assert isinstance(contract, Contract)
        head = await ib.reqHeadTimeStampAsync(contract, "TRADES", useRTH=True, formatDate=1)
        assert head == dt.datetime(2004, 1, 23, 14, 30, tzinfo=dt.UTC)
