"""The stream followers against a real server that stops and starts again mid-stream, on the
same port and database, in front of the simulated gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from ibkr.v1 import market_data_service_pb2, order_service_pb2
from ibkr_client import IbkrClient, Reconnect, ReconnectOptions
from tests.client.live_server import AAPL, QUICK_RETRIES, limit_buy, servers
from tests.support.waiting import eventually


async def whole_log(client: IbkrClient) -> list[int]:
    """Every stored event's sequence, read by a plain stream up to its REPLAY_COMPLETE."""
    sequences: list[int] = []
    call = client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(replay_from_start=True)
    )
    async for message in call:
        if message.WhichOneof("payload") == "marker":
            break
        sequences.append(message.order_event.sequence)
    call.cancel()
    return sequences


class Gate:
    """The followers' backoff sleep, held shut until the test opens it: the test decides what
    happens while a follower is away."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.open = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waiting.set()
        await self.open.wait()


@pytest.mark.slow
async def test_order_events_continue_across_a_restart_with_no_gap_and_no_repeat(
    tmp_path: Path,
) -> None:
    async with servers(tmp_path) as running, running.client() as client:
        async with running.client() as trader:
            await trader.orders.PlaceOrder(limit_buy("before-1"))
        gate = Gate()
        reconnects: list[Reconnect] = []
        options = ReconnectOptions(policy=QUICK_RETRIES, sleep=gate, on_reconnect=reconnects.append)
        seen: list[int] = []
        follower = client.follow_order_events(
            replay_from_start=True, heartbeat_interval=timedelta(seconds=1), reconnect=options
        )

        async def follow() -> None:
            async for item in follower:
                if isinstance(item, order_service_pb2.OrderEvent):
                    seen.append(item.sequence)  # noqa: PERF401  read while the stream is open

        following = asyncio.create_task(follow())

        def seen_at_least(count: int) -> Callable[[], bool]:
            def check() -> bool:
                if following.done():
                    following.result()  # a follower that failed fails the test with its error
                return len(seen) >= count

            return check

        try:
            async with running.client() as trader:
                await trader.orders.PlaceOrder(limit_buy("before-2"))
                # Two orders, each CREATED then SENT at least.
                await eventually(seen_at_least(4), message="too few events before the stop")
            # A graceful stop ends the stream UNAVAILABLE (SERVICE_UNAVAILABLE); the follower
            # then waits at the gate while orders are placed on the restarted server.
            await running.stop()
            await asyncio.wait_for(gate.waiting.wait(), timeout=10)
            before_restart = len(seen)
            await running.start()
            async with running.client() as trader:
                await trader.orders.PlaceOrder(limit_buy("while-away-1"))
                await trader.orders.PlaceOrder(limit_buy("while-away-2"))
                stored = await whole_log(trader)
            assert len(stored) > before_restart
            gate.open.set()
            await eventually(seen_at_least(len(stored)), message="the missed events never came")
            async with running.client() as trader:
                await trader.orders.PlaceOrder(limit_buy("after-resume"))
                await eventually(seen_at_least(len(stored) + 1), message="no live event")
                stored = await whole_log(trader)
            await eventually(seen_at_least(len(stored)))
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await follower.aclose()
    assert seen == stored == list(range(1, len(stored) + 1))
    assert reconnects
    first_error = reconnects[0].error
    assert first_error is not None
    assert first_error.code == grpc.StatusCode.UNAVAILABLE
    assert follower.last_sequence == stored[-1]


@pytest.mark.slow
async def test_quotes_resubscribe_after_a_restart(tmp_path: Path) -> None:
    async with servers(tmp_path) as running, running.client() as client:
        options = ReconnectOptions(policy=QUICK_RETRIES)
        quotes: list[market_data_service_pb2.Quote] = []
        follower = client.follow_quotes(
            [AAPL],
            max_quotes_per_message=10,
            heartbeat_interval=timedelta(seconds=1),
            reconnect=options,
        )

        async def follow() -> None:
            async for item in follower:
                if isinstance(item, market_data_service_pb2.Quote):
                    quotes.append(item)  # noqa: PERF401  read while the stream is open

        following = asyncio.create_task(follow())
        try:
            await eventually(lambda: quotes, message="no quote before the restart")
            await running.stop()
            before_restart = len(quotes)
            await running.start()
            # The reopened stream starts with the contract's latest quote, then follows ticks.
            await eventually(
                lambda: len(quotes) > before_restart, message="no quote after the restart"
            )
            after_resubscribe = len(quotes)
            await running.simulator.step()
            await eventually(lambda: len(quotes) > after_resubscribe, message="no live tick")
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await follower.aclose()
    assert follower.reconnects >= 1
    assert {quote.contract.symbol for quote in quotes} == {"AAPL"}
