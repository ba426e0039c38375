"""The risk store against real PostgreSQL and SQLite: trading states per account, and the
limits file held to the same bounds as UpdateRiskLimits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from ibkr_grpc.domain.risk import HaltCause, TradingState
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.risk_store import RiskStore, read_limits_file
from tests.support.builders import EPOCH
from tests.support.databases import BACKENDS, migrated_database


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as database:
        yield database


async def test_each_account_keeps_its_own_trading_state(database: Database) -> None:
    store = RiskStore(database)
    assert await store.load_states() == []
    everyone = TradingState(halted=False, since=EPOCH)
    one = TradingState(
        halted=True,
        since=EPOCH + timedelta(minutes=1),
        cause=HaltCause.DAILY_LOSS,
        halted_by="circuit-breaker",
        reason="lost",
        account="DU1234567",
    )
    await store.save_state(everyone)
    await store.save_state(one)
    resumed = TradingState(
        halted=False, since=EPOCH + timedelta(minutes=2), halted_by="alice", account="DU1234567"
    )
    await store.save_state(resumed)
    states = {state.account: state for state in await store.load_states()}
    assert states == {"": everyone, "DU1234567": resumed}


def test_the_limits_file_is_held_to_the_same_bounds(tmp_path: Path) -> None:
    path = tmp_path / "limits.json"
    path.write_text(json.dumps({"max_open_orders": 0, "rejection_window_seconds": 0.5}))
    with pytest.raises(ValueError, match="max_open_orders") as raised:
        read_limits_file(path)
    assert "rejection_window" in str(raised.value)
    path.write_text(json.dumps({"max_open_orders": 5, "price_collar_percent": "2.5"}))
    assert read_limits_file(path).max_open_orders == 5
