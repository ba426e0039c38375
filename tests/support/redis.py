"""The test Redis: a real server (TEST_REDIS_URL), with a key prefix of its own per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from ibkr_grpc.bus.redis_bus import connect_redis
from ibkr_grpc.domain.errors import ServiceUnavailableError

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


@asynccontextmanager
async def redis_for_test() -> AsyncIterator[tuple[Redis, str]]:
    """A connected client and a fresh prefix; the prefix's keys are deleted afterwards.
    A missing Redis fails the test: these tests exist to run against the real server."""
    try:
        client = await connect_redis(redis_url())
    except ServiceUnavailableError as error:
        pytest.fail(f"Redis at {redis_url()} is required (set TEST_REDIS_URL): {error}")
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
