"""The quote hub's line accounting under concurrency: the limit holds when streams open at
once, and a stream cancelled while its lines open leaves no line behind for good."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import MarketDataLineLimitError
from ibkr_grpc.domain.market_data import Quote
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.quote_hub import QuoteHub, QuoteItem


class SlowSource:
    """Opening a line takes a while, as it does behind the shared request limiter."""

    def __init__(self) -> None:
        self.open: set[int] = set()
        self.started: list[int] = []
        self.proceed = asyncio.Event()

    async def start(self, contract: ContractSpec) -> None:
        self.started.append(contract.con_id)
        await self.proceed.wait()
        self.open.add(contract.con_id)

    async def stop(self, contract: ContractSpec) -> None:
        self.open.discard(contract.con_id)

    def latest(self, con_id: int) -> Quote | None:
        return None


def stock(con_id: int) -> ContractSpec:
    return ContractSpec(symbol=f"S{con_id}", con_id=con_id)


def buffer() -> ConflatingBuffer[QuoteItem]:
    return ConflatingBuffer()


async def test_streams_opening_at_once_cannot_pass_the_line_limit_together() -> None:
    source = SlowSource()
    hub = QuoteHub(source, line_limit=3, linger_seconds=0.01)
    first = asyncio.create_task(hub.watch([stock(1), stock(2)], buffer()))
    second = asyncio.create_task(hub.watch([stock(3), stock(4)], buffer()))
    await asyncio.sleep(0)
    source.proceed.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], MarketDataLineLimitError)
    assert hub.lines_in_use == 2
    await hub.close()


async def test_a_stream_cancelled_while_its_lines_open_leaves_none_behind() -> None:
    source = SlowSource()
    hub = QuoteHub(source, line_limit=10, linger_seconds=0.01)
    watcher = buffer()
    opening = asyncio.create_task(hub.watch([stock(1), stock(2)], watcher))
    await asyncio.sleep(0)
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert hub.lines_in_use == 0
    hub.publish(Quote(stock(1), datetime.now(UTC)))
    assert not await watcher.wait(timeout=0)
    # The next watcher opens the line for real rather than joining one that never opened.
    source.proceed.set()
    await hub.watch([stock(1)], buffer())
    assert source.started == [1, 1]
    assert source.open == {1}
    await hub.close()


async def test_lines_are_shared_and_released_after_the_linger() -> None:
    source = SlowSource()
    source.proceed.set()
    hub = QuoteHub(source, line_limit=10, linger_seconds=0.05)
    one, two = buffer(), buffer()
    await hub.watch([stock(1), stock(2)], one)
    await hub.watch([stock(2)], two)
    assert source.started == [1, 2]
    hub.unwatch([stock(1), stock(2)], one)
    assert hub.lines_in_use == 2  # lingering
    await asyncio.sleep(0.1)
    assert hub.lines_in_use == 1
    assert source.open == {2}
    await hub.close()
