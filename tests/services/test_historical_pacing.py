"""The historical pacer on its own: caching, sharing, waiting and refusing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import PacingViolationError
from ibkr_grpc.domain.market_data import Bar, BarSize, BarSource, HistoryRequest, SpanUnit
from ibkr_grpc.services.historical_pacing import HistoricalPacer, PacingRules

AAPL = ContractSpec(symbol="AAPL", con_id=265598)


def request(days: int = 1) -> HistoryRequest:
    return HistoryRequest(
        contract=AAPL,
        bar_size=BarSize.MINUTES_5,
        span_count=days,
        span_unit=SpanUnit.DAYS,
        end_time=None,
        source=BarSource.TRADES,
        regular_trading_hours_only=False,
    )


class CountingFetch:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self) -> list[Bar]:
        self.calls.append(time.monotonic())
        await asyncio.sleep(0.01)
        return []


async def test_identical_requests_share_one_fetch_and_reuse_a_recent_result() -> None:
    pacer = HistoricalPacer()
    fetch = CountingFetch()
    await asyncio.gather(*(pacer.run(request(), fetch) for _ in range(5)))
    await pacer.run(request(), fetch)
    assert len(fetch.calls) == 1


async def test_a_burst_for_one_contract_is_paced_not_refused() -> None:
    pacer = HistoricalPacer(PacingRules(burst_count=3, burst_window=0.3))
    fetch = CountingFetch()
    await asyncio.gather(*(pacer.run(request(days), fetch) for days in range(1, 6)))
    assert len(fetch.calls) == 5
    assert fetch.calls[3] - fetch.calls[0] >= 0.3 - 0.01


async def test_a_wait_past_the_maximum_is_refused_with_a_retry_delay() -> None:
    pacer = HistoricalPacer(PacingRules(window_count=2, window_seconds=60, maximum_wait=1))
    fetch = CountingFetch()
    await pacer.run(request(1), fetch)
    await pacer.run(request(2), fetch)
    with pytest.raises(PacingViolationError) as raised:
        await pacer.run(request(3), fetch)
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > timedelta(seconds=50)
    assert raised.value.reason == "IB_PACING_VIOLATION"
