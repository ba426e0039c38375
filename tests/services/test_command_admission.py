"""The bounded queue of order commands on their way to IB (issue #15): past the bound a new
order or a modification is refused at once with RATE_LIMIT_EXCEEDED and a retry hint, before
anything is stored or sent; a command whose caller gave up keeps its place until it is sent;
cancels are never held."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_grpc.domain.errors import RateLimitExceededError
from ibkr_grpc.services.command_admission import CommandAdmission
from ibkr_grpc.services.order_changes import OrderChanges
from tests.services.fake_broker import FakeBroker
from tests.services.order_harness import Harness, harness, intent
from tests.support.waiting import eventually


async def stored(h: Harness, count: int) -> bool:
    return len(await h.store.working_orders()) == count


async def test_past_the_bound_a_new_order_is_refused_before_it_is_stored(tmp_path: Path) -> None:
    gate = asyncio.Event()
    async with harness(tmp_path, broker=FakeBroker(gate=gate), command_queue_limit=2) as h:
        first = asyncio.create_task(h.manager.place(intent("first")))
        second = asyncio.create_task(h.manager.place(intent("second")))
        await eventually(lambda: stored(h, 2), within=5)
        with pytest.raises(RateLimitExceededError) as raised:
            await h.manager.place(intent("third"))
        error = raised.value
        assert error.retry_after is not None
        assert error.retry_after.total_seconds() > 0
        assert error.metadata == {"limit": "2", "waiting": "2"}
        assert error.quota_violations[0].subject == "order_command_queue"
        assert {o.client_order_id for o in await h.store.working_orders()} == {"first", "second"}
        gate.set()
        await asyncio.gather(first, second)
        # The queue drained: the refused order goes through when retried.
        placed = await h.manager.place(intent("third"))
        assert placed.order.client_order_id == "third"
        assert len(h.broker.placed) == 3


async def test_a_command_whose_caller_gave_up_keeps_its_place_until_it_is_sent(
    tmp_path: Path,
) -> None:
    gate = asyncio.Event()
    async with harness(tmp_path, broker=FakeBroker(gate=gate), command_queue_limit=1) as h:
        abandoned = asyncio.create_task(h.manager.place(intent("abandoned")))
        await eventually(lambda: stored(h, 1), within=5)
        abandoned.cancel()  # the caller's deadline passed; the send goes on
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        with pytest.raises(RateLimitExceededError):
            await h.manager.place(intent("next"))
        gate.set()
        await eventually(lambda: len(h.broker.placed) == 1, within=5)
        await h.manager.place(intent("next"))
        assert [o.client_order_id for o in h.broker.placed] == ["abandoned", "next"]


async def test_modifications_wait_in_the_same_queue_and_cancels_in_none(tmp_path: Path) -> None:
    gate = asyncio.Event()
    gate.set()
    broker = FakeBroker(gate=gate)
    async with harness(tmp_path, broker=broker, command_queue_limit=1) as h:
        working = await h.manager.place(intent("working"))
        gate.clear()
        blocked = asyncio.create_task(h.manager.place(intent("blocked")))
        await eventually(lambda: stored(h, 2), within=5)
        with pytest.raises(RateLimitExceededError):
            await h.manager.modify(OrderChanges(working.order.order_id, quantity=Decimal(5)))
        cancelled = await h.manager.cancel(working.order.order_id)
        assert cancelled.order_id == working.order.order_id
        assert h.broker.cancels == [working.order.broker_order_id]
        gate.set()
        await blocked


def test_the_retry_hint_is_the_time_the_queue_ahead_takes_at_the_recent_rate() -> None:
    admission = CommandAdmission(limit=4)
    tickets = [admission.enter() for _ in range(4)]
    with pytest.raises(RateLimitExceededError) as cold:
        admission.enter()
    assert cold.value.retry_after is not None
    assert cold.value.retry_after.total_seconds() == 1.0  # no rate measured yet
    for ticket in tickets:
        ticket.release()
        ticket.release()  # given back once, whoever gives it back twice
    assert admission.waiting == 0
    hint_bounds = (0.1, 10.0)
    tickets = [admission.enter() for _ in range(4)]
    with pytest.raises(RateLimitExceededError) as warm:
        admission.enter()
    assert warm.value.retry_after is not None
    assert hint_bounds[0] <= warm.value.retry_after.total_seconds() <= hint_bounds[1]


def test_the_retry_hint_reads_the_rate_of_the_last_seconds_only() -> None:
    """Departures before a quiet spell would make the queue look slow: a burst an hour later
    gets the default hint, and one while commands leave at 10 a second gets 4 / 10 s."""
    now = [0.0]
    admission = CommandAdmission(limit=4, clock=lambda: now[0])
    for step in range(40):  # 40 commands leave over 4 s
        now[0] = step * 0.1
        admission.enter().release()
    now[0] = 3600.0
    tickets = [admission.enter() for _ in range(4)]
    with pytest.raises(RateLimitExceededError) as after_quiet:
        admission.enter()
    assert after_quiet.value.retry_after == timedelta(seconds=1)
    for step, ticket in enumerate(tickets):  # they leave at 10 a second
        now[0] = 3600.0 + step * 0.1
        ticket.release()
    tickets = [admission.enter() for _ in range(4)]
    now[0] += 0.1
    with pytest.raises(RateLimitExceededError) as busy:
        admission.enter()
    assert busy.value.retry_after is not None
    assert busy.value.retry_after.total_seconds() == pytest.approx(0.4, rel=0.05)
    for ticket in tickets:
        ticket.release()
