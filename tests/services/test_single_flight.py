"""Identical concurrent requests share one call; failures reach every waiter and are not kept."""

from __future__ import annotations

import asyncio

import pytest

from ibkr_grpc.services.single_flight import SingleFlight


class Gate:
    """A fetch that counts its calls and finishes when the test says so."""

    def __init__(self) -> None:
        self.calls = 0
        self.open = asyncio.Event()
        self.failure: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        await self.open.wait()
        if self.failure is not None:
            raise self.failure
        return f"answer {self.calls}"


async def test_concurrent_callers_share_one_call() -> None:
    flight: SingleFlight[str] = SingleFlight()
    fetch = Gate()
    callers = [asyncio.create_task(flight.run("AAPL", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    assert flight.in_flight == 1
    fetch.open.set()
    assert set(await asyncio.gather(*callers)) == {"answer 1"}
    assert fetch.calls == 1
    assert flight.in_flight == 0
    # Finished calls are not remembered: the next caller asks again.
    assert await flight.run("AAPL", fetch) == "answer 2"


async def test_different_keys_do_not_share() -> None:
    flight: SingleFlight[str] = SingleFlight()
    fetch = Gate()
    fetch.open.set()
    await asyncio.gather(flight.run("AAPL", fetch), flight.run("MSFT", fetch))
    assert fetch.calls == 2


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flight: SingleFlight[str] = SingleFlight()
    fetch = Gate()
    fetch.failure = LookupError("no such contract")
    callers = [asyncio.create_task(flight.run("NOPE", fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    fetch.open.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(result, LookupError) for result in results)
    fetch.failure = None
    assert await flight.run("NOPE", fetch) == "answer 2"


async def test_a_cancelled_caller_leaves_the_call_running_for_the_others() -> None:
    flight: SingleFlight[str] = SingleFlight()
    fetch = Gate()
    leaving = asyncio.create_task(flight.run("AAPL", fetch))
    staying = asyncio.create_task(flight.run("AAPL", fetch))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    fetch.open.set()
    assert await staying == "answer 1"
    assert fetch.calls == 1


async def test_a_failure_nobody_waits_for_is_not_reported_as_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flight: SingleFlight[str] = SingleFlight()
    fetch = Gate()
    fetch.failure = LookupError("no such contract")
    caller = asyncio.create_task(flight.run("NOPE", fetch))
    await asyncio.sleep(0)
    caller.cancel()
    fetch.open.set()
    for _ in range(3):
        await asyncio.sleep(0)
    assert flight.in_flight == 0
    assert "never retrieved" not in caplog.text
