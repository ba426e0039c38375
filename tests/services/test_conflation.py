"""The conflating buffer: a slow reader gets each key's latest value, the longest-waiting
first, in bounded memory, and the writer never waits."""

from __future__ import annotations

import asyncio

from ibkr_grpc.services.conflation import ConflatingBuffer


async def test_a_slow_reader_gets_the_latest_value_of_each_key() -> None:
    buffer: ConflatingBuffer[str] = ConflatingBuffer()
    for step in range(100):
        buffer.put("AAPL", f"AAPL {step}")
        buffer.put("MSFT", f"MSFT {step}")
    assert await buffer.wait(0)
    assert [buffer.pop_oldest(), buffer.pop_oldest()] == ["AAPL 99", "MSFT 99"]
    assert buffer.conflated == 198
    assert not await buffer.wait(0)


async def test_values_are_read_one_at_a_time_and_a_change_waits_its_turn_again() -> None:
    buffer: ConflatingBuffer[str] = ConflatingBuffer()
    buffer.put("AAPL", "AAPL 1")
    buffer.put("MSFT", "MSFT 1")
    buffer.put("SPY", "SPY 1")
    assert buffer.pop_oldest() == "AAPL 1"
    # While the reader sends AAPL, MSFT changes: the newer MSFT is what goes out, after SPY,
    # which has now waited longest.
    buffer.put("MSFT", "MSFT 2")
    assert buffer.pop_oldest() == "SPY 1"
    assert buffer.pop_oldest() == "MSFT 2"
    assert not await buffer.wait(0)


async def test_past_the_key_limit_the_oldest_key_goes() -> None:
    buffer: ConflatingBuffer[int] = ConflatingBuffer(maximum_keys=3)
    for key in range(5):
        buffer.put(key, key)
    assert [buffer.pop_oldest() for _ in range(3)] == [2, 3, 4]
    assert buffer.conflated == 2


async def test_a_waiting_reader_wakes_on_a_put_and_times_out_without_one() -> None:
    buffer: ConflatingBuffer[str] = ConflatingBuffer()
    assert not await buffer.wait(0.01)
    reader = asyncio.create_task(buffer.wait(5))
    await asyncio.sleep(0)
    buffer.put("AAPL", "AAPL 1")
    assert await reader
    assert buffer.pop_oldest() == "AAPL 1"


async def test_conflations_are_reported_in_batches_and_when_the_reader_reads() -> None:
    reported: list[int] = []
    buffer: ConflatingBuffer[int] = ConflatingBuffer(on_conflated=reported.append)
    for step in range(200):  # a reader that never reads: 199 conflations
        buffer.put("AAPL", step)
    assert reported == [64, 64, 64]
    assert buffer.pop_oldest() == 199
    assert reported == [64, 64, 64, 7]
    assert sum(reported) == buffer.conflated
