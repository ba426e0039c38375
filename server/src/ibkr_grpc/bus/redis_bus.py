"""The message bus and cache on Redis: pub/sub channels and keys with expiry, shared by every
server process that points at the same Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ibkr_grpc.domain.errors import ServiceUnavailableError

_log = structlog.get_logger("ibkr_grpc.bus")


class RedisBus:
    def __init__(self, client: Redis, *, prefix: str = "ibkr-grpc:") -> None:
        self._client = client
        self._prefix = prefix

    async def publish(self, channel: str, payload: bytes) -> None:
        try:
            await self._client.publish(self._prefix + channel, payload)
        except RedisError as error:
            # A lost notification is recovered by readers' polling; log, do not fail the writer.
            _log.warning("redis publish failed", channel=channel, error=str(error))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._prefix + channel)

        async def messages() -> AsyncIterator[bytes]:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and isinstance(message.get("data"), bytes):
                    yield message["data"]
                elif message is None:
                    await asyncio.sleep(0)

        try:
            yield messages()
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self._client.aclose()


async def redis_reachable(client: Redis) -> bool:
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False


class RedisCache:
    def __init__(self, client: Redis, *, prefix: str = "ibkr-grpc:") -> None:
        self._client = client
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._prefix + key)
        except RedisError as error:
            _log.warning("redis get failed", key=key, error=str(error))
            return None
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        try:
            await self._client.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))
        except RedisError as error:
            _log.warning("redis set failed", key=key, error=str(error))

    async def close(self) -> None:
        await self._client.aclose()


async def connect_redis(url: str) -> Redis:
    """A client for `url`, checked with a PING so a wrong REDIS_URL fails at start-up."""
    client = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        message = f"Redis at REDIS_URL is unreachable: {error}"
        raise ServiceUnavailableError(message) from error
    return client
