"""The trading control on its own: halts of every account and of one, the breakers that set
them, and failing closed when the database refuses a write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ibkr_grpc.domain.errors import ServiceUnavailableError, TradingHaltedError
from ibkr_grpc.domain.portfolio import ProfitAndLoss
from ibkr_grpc.domain.risk import HaltCause, RiskLimits, TradingState
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.trading_control import TradingControl
from tests.services.risk_fakes import FakeAuditor, FakeRiskRepository
from tests.support.builders import EPOCH
from tests.support.waiting import eventually

FIRST = "DU1111111"
SECOND = "DU2222222"


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@asynccontextmanager
async def control(
    repository: FakeRiskRepository | None = None, limits: RiskLimits | None = None
) -> AsyncIterator[tuple[TradingControl, FakeRiskRepository]]:
    repository = repository or FakeRiskRepository()
    trading = TradingControl(
        repository,
        FakeAuditor(),
        limits=lambda: limits or RiskLimits(),
        clock=Clock(),
        retry_delay=timedelta(milliseconds=5),
        max_retry_delay=timedelta(milliseconds=20),
    )
    await trading.load()
    try:
        yield trading, repository
    finally:
        await trading.stop()


def allowed(trading: TradingControl, account: str) -> bool:
    try:
        trading.ensure_trading_allowed(account)
    except TradingHaltedError:
        return False
    return True


async def test_an_account_halt_stops_that_account_only() -> None:
    async with control() as (trading, repository):
        await trading.halt(HaltCause.MANUAL, by="alice", reason="check", account=FIRST)
        assert (allowed(trading, FIRST), allowed(trading, SECOND)) == (False, True)
        state = trading.current(FIRST)
        assert (state.halted, state.account, state.halted_by) == (True, FIRST, "alice")
        assert not trading.current().halted
        assert not trading.current(SECOND).halted
        assert repository.states[FIRST].halted
        with pytest.raises(TradingHaltedError) as raised:
            trading.ensure_trading_allowed(FIRST)
        assert raised.value.metadata["account"] == FIRST


async def test_the_halt_of_every_account_outranks_and_outlives_account_resumes() -> None:
    async with control() as (trading, _):
        await trading.halt(HaltCause.MANUAL, by="alice", reason="one", account=FIRST)
        await trading.halt(HaltCause.MANUAL, by="root", reason="all")
        assert not allowed(trading, SECOND)
        assert trading.current(FIRST).account == ""
        await trading.resume(by="alice", reason="fixed", account=FIRST)
        assert not allowed(trading, FIRST)
        await trading.resume(by="root", reason="over")
        assert allowed(trading, FIRST)
        assert allowed(trading, SECOND)


async def test_resuming_every_account_leaves_the_accounts_own_halts() -> None:
    async with control() as (trading, _):
        await trading.halt(HaltCause.MANUAL, by="alice", reason="one", account=FIRST)
        await trading.halt(HaltCause.MANUAL, by="root", reason="all")
        await trading.resume(by="root", reason="over")
        assert (allowed(trading, FIRST), allowed(trading, SECOND)) == (False, True)


async def test_every_stored_state_is_loaded_at_start() -> None:
    stored = [
        TradingState(halted=False, since=EPOCH),
        TradingState(halted=True, since=EPOCH, cause=HaltCause.DAILY_LOSS, account=FIRST),
    ]
    async with control(FakeRiskRepository(stored)) as (trading, _):
        assert (allowed(trading, FIRST), allowed(trading, SECOND)) == (False, True)
        assert trading.current(FIRST).cause is HaltCause.DAILY_LOSS


async def test_a_halt_cancels_the_working_orders_of_its_account() -> None:
    asked: list[str] = []

    async def cancel_all(account: str) -> list[str]:
        asked.append(account)
        return [f"order-of-{account or 'everyone'}"]

    async with control() as (trading, _):
        trading.attach(cancel_all)
        one = await trading.halt(
            HaltCause.MANUAL, by="a", reason="r", cancel_working_orders=True, account=FIRST
        )
        every = await trading.halt(HaltCause.MANUAL, by="a", reason="r", cancel_working_orders=True)
    assert asked == [FIRST, ""]
    assert (one, every) == ([f"order-of-{FIRST}"], ["order-of-everyone"])


async def test_a_daily_loss_halts_the_account_that_lost() -> None:
    async with control(limits=RiskLimits(daily_loss_limit=Decimal(500))) as (trading, repository):
        trading.portfolio_updated(ProfitAndLoss(FIRST, EPOCH, daily_pnl=Decimal(-500)))
        assert allowed(trading, FIRST)
        trading.portfolio_updated(ProfitAndLoss(FIRST, EPOCH, daily_pnl=Decimal("-500.01")))
        # In force at once, before anything is written.
        assert (allowed(trading, FIRST), allowed(trading, SECOND)) == (False, True)
        await trading.settled()
        assert repository.states[FIRST].cause is HaltCause.DAILY_LOSS
        assert not trading.current().halted


async def test_ib_rejections_halt_every_account() -> None:
    async with control(limits=RiskLimits(max_rejections=2)) as (trading, _):
        trading.record_rejection()
        assert allowed(trading, FIRST)
        trading.record_rejection()
        assert (allowed(trading, FIRST), allowed(trading, SECOND)) == (False, False)
        assert trading.current().cause is HaltCause.REJECTIONS


async def test_a_halt_holds_when_it_cannot_be_stored_and_is_stored_once_it_can() -> None:
    repository = FakeRiskRepository()
    repository.failing = True
    async with control(repository) as (trading, _):
        await trading.halt(HaltCause.MANUAL, by="alice", reason="db down", account=FIRST)
        assert not allowed(trading, FIRST)
        assert FIRST not in repository.states
        repository.failing = False
        await eventually(lambda: FIRST in repository.states, within=5)
        assert repository.states[FIRST].halted
        assert not allowed(trading, FIRST)


async def test_a_breaker_halt_holds_when_it_cannot_be_stored() -> None:
    repository = FakeRiskRepository()
    repository.failing = True
    async with control(repository, RiskLimits(max_rejections=1)) as (trading, _):
        trading.record_rejection()
        await trading.settled()
        assert not allowed(trading, FIRST)
        repository.failing = False
        await eventually(lambda: "" in repository.states, within=5)
        assert repository.states[""].cause is HaltCause.REJECTIONS


async def test_a_resume_that_cannot_be_stored_fails_and_trading_stays_halted() -> None:
    async with control() as (trading, repository):
        await trading.halt(HaltCause.MANUAL, by="alice", reason="r")
        repository.failing = True
        with pytest.raises(ServiceUnavailableError):
            await trading.resume(by="alice", reason="too soon")
        assert not allowed(trading, FIRST)
        assert repository.states[""].halted
        repository.failing = False
        await trading.resume(by="alice", reason="now")
        assert allowed(trading, FIRST)
        assert not repository.states[""].halted


async def test_stop_makes_a_last_attempt_to_store_and_is_safe_twice() -> None:
    repository = FakeRiskRepository()
    async with control(repository) as (trading, _):
        repository.failing = True
        await trading.halt(HaltCause.MANUAL, by="alice", reason="r", account=SECOND)
        repository.failing = False
        await trading.stop()
        await trading.stop()
    assert repository.states[SECOND].halted


async def test_an_account_stream_follows_the_state_that_applies_to_it() -> None:
    async with control() as (trading, _):
        seen: list[tuple[bool, str]] = []
        async with aclosing(trading.states(timedelta(seconds=30), FIRST)) as states:
            async for item in states:
                assert not isinstance(item, Heartbeat)
                seen.append((item.halted, item.account))
                if len(seen) == 1:
                    # Another account's halt is no change for this stream.
                    await trading.halt(HaltCause.MANUAL, by="a", reason="r", account=SECOND)
                    await trading.halt(HaltCause.MANUAL, by="a", reason="r", account=FIRST)
                elif len(seen) == 2:
                    await trading.halt(HaltCause.MANUAL, by="a", reason="r")
                else:
                    break
    assert seen == [(False, FIRST), (True, FIRST), (True, "")]
