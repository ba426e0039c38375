"""Redis restarting or hanging under a running server, on a Redis of the test's own: order events
keep reaching streams, orders keep completing, and the bus resubscribes (and says so) when Redis
is back, so that wake-ups and quotes travel between server processes again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import SecretStr
from redis.asyncio import Redis

from ibkr.v1 import common_pb2
from ibkr.v1 import market_data_service_pb2 as market_data_pb
from ibkr_client import IbkrClient
from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer, running_server
from tests.server.test_follower import follower
from tests.server.test_order_lifecycle import EventCollector, collecting
from tests.server.test_orders import limit_buy
from tests.support.databases import migrated_database
from tests.support.private_redis import PrivateRedis, private_redis
from tests.support.waiting import eventually

PREFIX = "outage:"
# Each order's events must reach the stream within this long, whatever Redis is doing.
DELIVERY_SECONDS = 5.0


def metric(server: RunningServer, name: str, **labels: str) -> float:
    value = server.application.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def place_and_see(server: RunningServer, collector: EventCollector, key: str) -> None:
    """PlaceOrder completes, and its CREATED event reaches the stream, both in bounded time."""
    async with asyncio.timeout(10):
        placed = await server.client.orders.PlaceOrder(limit_buy("60.00", key=key))
    order_id = placed.order.order_id
    await eventually(
        lambda: any(event.order.order_id == order_id for event in collector.events),
        within=DELIVERY_SECONDS,
        message=f"the events of order {key!r} did not reach the stream",
    )


def assert_no_gap_and_no_duplicate(collector: EventCollector) -> None:
    sequences = [event.sequence for event in collector.events]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))


@asynccontextmanager
async def order_event_wakeups(redis: PrivateRedis) -> AsyncIterator[list[bytes]]:
    """What the server publishes on Redis's order-event channel, heard by a client of its own."""
    client = Redis.from_url(redis.url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(f"{PREFIX}order-events")
    heard: list[bytes] = []

    async def listen() -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                heard.append(message["data"])

    listener = asyncio.create_task(listen())
    try:
        yield heard
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


async def test_order_events_flow_through_a_redis_restart(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        private_redis() as redis,
        migrated_database("sqlite", tmp_path) as database,
        running_server(
            simulator, database, redis_url=SecretStr(redis.url), redis_key_prefix=PREFIX
        ) as server,
        collecting(server) as collector,
    ):
        await place_and_see(server, collector, "before-restart")
        await redis.stop()
        # Without Redis, this process's streams are woken in process.
        await place_and_see(server, collector, "while-down-1")
        await eventually(
            lambda: metric(server, "redis_subscriptions_waiting") >= 1,
            message="the lost subscriptions were not reported",
        )
        await place_and_see(server, collector, "while-down-2")
        assert metric(server, "redis_subscriptions_lost_total") >= 1
        await redis.start()
        await eventually(
            lambda: metric(server, "redis_subscriptions_waiting") == 0,
            message="the bus did not resubscribe after Redis came back",
        )
        assert metric(server, "redis_subscriptions_restored_total") >= 1
        async with order_event_wakeups(redis) as heard:
            await place_and_see(server, collector, "after-restart")
            await eventually(lambda: heard, message="commits are not published on Redis again")
        await place_and_see(server, collector, "after-restart-2")
        assert_no_gap_and_no_duplicate(collector)


async def test_a_hung_redis_does_not_hold_up_orders(simulator: Simulator, tmp_path: Path) -> None:
    async with (
        private_redis() as redis,
        migrated_database("sqlite", tmp_path) as database,
        running_server(
            simulator, database, redis_url=SecretStr(redis.url), redis_key_prefix=PREFIX
        ) as server,
        collecting(server) as collector,
    ):
        await place_and_see(server, collector, "before-freeze")
        redis.freeze()
        try:
            for number in range(3):
                await place_and_see(server, collector, f"while-frozen-{number}")
            # The publication behind them timed out rather than waiting for ever.
            await eventually(
                lambda: metric(server, "redis_command_failures_total", operation="publish") >= 1,
                message="a publish to the hung Redis never timed out",
            )
        finally:
            redis.thaw()
        async with order_event_wakeups(redis) as heard:
            await place_and_see(server, collector, "after-thaw")
            await eventually(lambda: heard, message="commits are not published on Redis again")
        assert_no_gap_and_no_duplicate(collector)


async def test_a_follower_gets_quotes_again_after_a_redis_restart(
    simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "owner").mkdir()
    (tmp_path / "follower").mkdir()
    async with (
        private_redis() as redis,
        migrated_database("sqlite", tmp_path / "owner") as owner_database,
        migrated_database("sqlite", tmp_path / "follower") as follower_database,
        running_server(
            simulator, owner_database, redis_url=SecretStr(redis.url), redis_key_prefix=PREFIX
        ),
        follower(simulator, follower_database, PREFIX, url=redis.url) as client,
        streaming_quotes(client) as quotes,
    ):

        async def more_quotes(than: int) -> bool:
            await simulator.step()
            return len(quotes) > than

        await eventually(lambda: more_quotes(0), message="no quote before the restart")
        await redis.restart()
        before = len(quotes)
        await eventually(
            lambda: more_quotes(before),
            within=15,
            message="the follower got no quote after Redis restarted",
        )
        assert {quote.contract.symbol for quote in quotes} == {"AAPL"}


@asynccontextmanager
async def streaming_quotes(client: IbkrClient) -> AsyncIterator[list[market_data_pb.Quote]]:
    request = market_data_pb.StreamQuotesRequest(contracts=[common_pb2.Contract(symbol="AAPL")])
    stream = client.market_data.StreamQuotes(request)
    quotes: list[market_data_pb.Quote] = []

    async def read() -> None:
        async for response in stream:
            if response.WhichOneof("payload") == "quote":
                # Appended one by one: the test reads the list while the stream goes on.
                quotes.append(response.quote)  # noqa: PERF401

    reader = asyncio.create_task(read())
    try:
        yield quotes
    finally:
        stream.cancel()
        await asyncio.gather(reader, return_exceptions=True)
