"""How often the gateway pushes data on its own: IB's cadences are the defaults."""

from __future__ import annotations

from ib_async import IB

from ibkr_simulator import Simulator, SimulatorConfig
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING


def _account_value_messages(ib: IB) -> list[str]:
    seen: list[str] = []
    ib.accountValueEvent += lambda value: seen.append(value.tag)
    return seen


async def test_account_values_are_not_resent_every_second_by_default() -> None:
    # IB sends account updates on a position change, otherwise every three minutes
    # (https://interactivebrokers.github.io/tws-api/account_updates.html); PnL about once a
    # second (https://interactivebrokers.github.io/tws-api/pnl.html).
    defaults = SimulatorConfig()
    assert (defaults.account_update_interval, defaults.pnl_update_interval) == (180.0, 1.0)
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=20)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        account = ib.managedAccounts()[0]
        values = _account_value_messages(ib)
        ib.reqPnL(account)
        updates: list[float] = []
        ib.pnlEvent += lambda update: updates.append(update.dailyPnL)
        await eventually(lambda: len(updates) >= 2, within=3.0)
        assert values == []


async def test_tests_can_ask_for_a_faster_account_cadence() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=20, account_update_interval=0.2
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        values = _account_value_messages(ib)
        await eventually(lambda: "NetLiquidation" in values, within=2.0)
