"""The message bus and cache, against real Redis and in-process: the same tests for both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ibkr_grpc.bus.in_process import SUBSCRIBER_QUEUE, InProcessBus, InProcessCache
from ibkr_grpc.bus.redis_bus import RedisBus, RedisCache, connect_redis
from ibkr_grpc.domain.errors import ServiceUnavailableError
from ibkr_grpc.services.ports import Cache, MessageBus
from tests.support.redis import redis_for_test


@dataclass
class Backend:
    bus: MessageBus
    cache: Cache


@pytest.fixture(params=["redis", "in-process"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "in-process":
        yield Backend(InProcessBus(), InProcessCache())
        return
    async with redis_for_test() as (client, prefix):
        yield Backend(RedisBus(client, prefix=prefix), RedisCache(client, prefix=prefix))


async def test_every_subscriber_gets_every_message_in_order(backend: Backend) -> None:
    async with (
        backend.bus.subscribe("quotes.1") as first,
        backend.bus.subscribe("quotes.1") as second,
        backend.bus.subscribe("quotes.2") as other,
    ):
        for number in range(5):
            await backend.bus.publish("quotes.1", f"m{number}".encode())
        await backend.bus.publish("quotes.2", b"elsewhere")
        async with asyncio.timeout(5):
            got_first = [await anext(first) for _ in range(5)]
            got_second = [await anext(second) for _ in range(5)]
            assert await anext(other) == b"elsewhere"
    expected = [f"m{number}".encode() for number in range(5)]
    assert got_first == expected
    assert got_second == expected


async def test_cache_values_expire(backend: Backend) -> None:
    await backend.cache.set("quote:1", b"187.25", ttl_seconds=0.2)
    assert await backend.cache.get("quote:1") == b"187.25"
    assert await backend.cache.get("quote:2") is None
    await asyncio.sleep(0.3)  # the expiry itself is what is under test
    assert await backend.cache.get("quote:1") is None


async def test_a_slow_in_process_subscriber_loses_its_oldest_messages_not_the_publisher() -> None:
    bus = InProcessBus()
    async with bus.subscribe("busy") as messages:
        for number in range(SUBSCRIBER_QUEUE + 10):
            await bus.publish("busy", str(number).encode())
        assert bus.dropped == 10
        assert await anext(messages) == b"10"


async def test_an_unreachable_redis_fails_at_start_up() -> None:
    with pytest.raises(ServiceUnavailableError, match="unreachable"):
        await connect_redis("redis://127.0.0.1:1/0")
