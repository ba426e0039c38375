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


async def test_values_are_read_one_at_a_time_and_a_changed_key_keeps_its_place() -> None:
    buffer: ConflatingBuffer[str] = ConflatingBuffer()
    buffer.put("AAPL", "AAPL 1")
    buffer.put("MSFT", "MSFT 1")
    buffer.put("SPY", "SPY 1")
    assert buffer.pop_oldest() == "AAPL 1"
    # While the reader sends AAPL, MSFT changes: MSFT has waited longest (since MSFT 1), so it
    # goes next, with its newest value.
    buffer.put("MSFT", "MSFT 2")
    assert buffer.pop_oldest() == "MSFT 2"
    assert buffer.pop_oldest() == "SPY 1"
    assert not await buffer.wait(0)


async def test_a_reader_slower_than_the_writer_still_gets_every_key_in_turn() -> None:
    """Every key changes each step and the reader sends one value per step: each key still goes
    out once every three steps, never starved by the keys that change before it."""
    buffer: ConflatingBuffer[str] = ConflatingBuffer()
    sent: list[str] = []
    for step in range(9):
        for symbol in ("AAPL", "MSFT", "SPY"):
            buffer.put(symbol, f"{symbol} {step}")
        sent.append(buffer.pop_oldest())
    assert sent == [
        "AAPL 0", "MSFT 1", "SPY 2", "AAPL 3", "MSFT 4", "SPY 5", "AAPL 6", "MSFT 7", "SPY 8",
    ]  # fmt: skip


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
