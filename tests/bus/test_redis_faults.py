"""The Redis bus when Redis restarts or is down, on a Redis of the test's own: subscriptions come
back by themselves, and every loss and recovery is reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from ibkr_grpc.bus.redis_bus import RedisBus, connect_redis
from tests.support.private_redis import PrivateRedis, private_redis
from tests.support.waiting import eventually


@dataclass
class RecordingObserver:
    lost: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    closed_while_lost: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def subscription_lost(self, channel: str) -> None:
        self.lost.append(channel)

    def subscription_restored(self, channel: str, outage_seconds: float) -> None:
        assert outage_seconds >= 0
        self.restored.append(channel)

    def subscription_closed_while_lost(self, channel: str) -> None:
        self.closed_while_lost.append(channel)

    def command_failed(self, operation: str) -> None:
        self.failed.append(operation)


@pytest.fixture
async def redis() -> AsyncIterator[PrivateRedis]:
    async with private_redis() as server:
        yield server


async def collect(messages: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for message in messages:
        into.append(message)  # noqa: PERF401  read while the stream goes on, not at its end


async def test_a_subscription_resubscribes_after_a_restart(redis: PrivateRedis) -> None:
    observer = RecordingObserver()
    bus = RedisBus(await connect_redis(redis.url), observer=observer)
    received: list[bytes] = []
    try:
        async with bus.subscribe("order-events") as messages:
            reader = asyncio.create_task(collect(messages, received))
            await bus.publish("order-events", b"1")
            await eventually(lambda: received == [b"1"])
            await redis.stop()
            await eventually(lambda: observer.lost == ["order-events"])
            await bus.publish("order-events", b"lost")  # nobody can hear it
            assert observer.failed == ["publish"]
            await redis.start()
            await eventually(lambda: observer.restored == ["order-events"])

            async def delivered_again() -> bool:
                await bus.publish("order-events", b"2")
                return b"2" in received

            await eventually(delivered_again, message="no delivery after the restart")
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    finally:
        await bus.close()
    assert b"lost" not in received
    assert observer.closed_while_lost == []


async def test_a_subscription_made_while_redis_is_down_starts_when_it_is_back(
    redis: PrivateRedis,
) -> None:
    observer = RecordingObserver()
    bus = RedisBus(await connect_redis(redis.url), observer=observer)
    received: list[bytes] = []
    try:
        await redis.stop()
        async with bus.subscribe("quotes.1") as messages:
            assert observer.lost == ["quotes.1"]
            reader = asyncio.create_task(collect(messages, received))
            await redis.start()

            async def delivered() -> bool:
                await bus.publish("quotes.1", b"quote")
                return bool(received)

            await eventually(delivered, message="the subscription never started")
            assert observer.restored == ["quotes.1"]
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    finally:
        await bus.close()


async def test_a_subscription_closed_while_lost_is_reported_as_no_longer_waiting(
    redis: PrivateRedis,
) -> None:
    observer = RecordingObserver()
    bus = RedisBus(await connect_redis(redis.url), observer=observer)
    try:
        await redis.stop()
        async with bus.subscribe("quotes.2"):
            pass
    finally:
        await bus.close()
    assert observer.lost == observer.closed_while_lost == ["quotes.2"]
    assert observer.restored == []
