"""One-off quotes from IB's snapshot requests, taken as soon as they are complete enough. IB
sends a snapshot's ticks at once but ends it (tickSnapshotEnd) only about 11 s later
(https://interactivebrokers.github.io/tws-api/md_request.html), so waiting for the end, as
ib_async's reqTickersAsync does, would make every quote take 11 s."""

from __future__ import annotations

import asyncio
from typing import Any

from ib_async import IB, Contract, Ticker


async def snapshot_ticker(ib: IB, contract: Contract, *, within: float, settle: float) -> Ticker:
    """A snapshot's ticker once it has bid and ask (or a last price) and then `settle` seconds
    passed without another tick, or IB ended the snapshot. TimeoutError when nothing usable
    came within `within` seconds; IB's refusal of the request raises its RequestError."""
    request_id = ib.client.getReqId()
    ended: asyncio.Future[object] = ib.wrapper.startReq(request_id, contract)  # type: ignore[no-untyped-call]
    ticker: Ticker = ib.wrapper.startTicker(request_id, contract, "snapshot")

    def release(future: asyncio.Future[object]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved here; raised below to a caller still waiting
        ib.wrapper.endTicker(ticker, "snapshot")

    ended.add_done_callback(release)
    ib.client.reqMktData(  # type: ignore[no-untyped-call]
        request_id,
        contract,
        genericTickList="",
        snapshot=True,
        regulatorySnapshot=False,
        mktDataOptions=[],
    )
    async with asyncio.timeout(within):
        while not ended.done() and not quoted(ticker):
            await _next_tick_or_end(ticker, ended)
        while not ended.done() and settle > 0:
            try:
                async with asyncio.timeout(settle):
                    await _next_tick_or_end(ticker, ended)
            except TimeoutError:
                break
    if ended.done() and not ended.cancelled() and ended.exception() is not None:
        raise ended.exception()  # type: ignore[misc]
    return ticker


def quoted(ticker: Ticker) -> bool:
    """Bid and ask, or at least a last price (NaN and IB's -1 are no price)."""
    bid, ask, last = ticker.bid, ticker.ask, ticker.last
    both_sides = bid == bid and ask == ask and bid > 0 and ask > 0  # noqa: PLR0124  NaN checks
    return both_sides or (last == last and last > 0)  # noqa: PLR0124


async def _next_tick_or_end(ticker: Ticker, ended: asyncio.Future[object]) -> None:
    update = asyncio.ensure_future(_next_update(ticker))
    try:
        waiting: list[asyncio.Future[Any]] = [update, ended]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        update.cancel()


async def _next_update(ticker: Ticker) -> None:
    await ticker.updateEvent
