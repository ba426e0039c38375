"""The message bus and cache on Redis: pub/sub channels and keys with expiry, shared by every
server process that points at the same Redis.

Redis may restart or hang under a running server. Every socket operation has a timeout, so a
hung Redis costs a caller seconds, not forever; subscriptions are re-established with backoff
after a lost connection; and each loss and recovery is logged once and reported to an observer
(the metrics), never silently."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import structlog
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ibkr_grpc.domain.errors import ServiceUnavailableError

_log = structlog.get_logger("ibkr_grpc.bus")

# A command waits this long for Redis's answer; connecting waits as long.
SOCKET_TIMEOUT_SECONDS = 2.0
# Idle pooled connections are checked (PING) before use after this long.
HEALTH_CHECK_SECONDS = 10
# A subscription waits this long for a message before looking again (and checking health).
READ_SECONDS = 1.0
# After a lost subscription: the first resubscription attempt, doubling up to the cap.
RESUBSCRIBE_FIRST_DELAY_SECONDS = 0.1
RESUBSCRIBE_MAX_DELAY_SECONDS = 2.0

_FAILURES = (RedisError, OSError)


class BusObserver(Protocol):
    """Told of losses and recoveries of the connection to Redis (implemented over the
    metrics by observability.followers.BusMetrics)."""

    def subscription_lost(self, channel: str) -> None: ...

    def subscription_restored(self, channel: str, outage_seconds: float) -> None: ...

    def subscription_closed_while_lost(self, channel: str) -> None: ...

    def command_failed(self, operation: str) -> None: ...


class NoBusObserver:
    def subscription_lost(self, channel: str) -> None:
        del channel

    def subscription_restored(self, channel: str, outage_seconds: float) -> None:
        del channel, outage_seconds

    def subscription_closed_while_lost(self, channel: str) -> None:
        del channel

    def command_failed(self, operation: str) -> None:
        del operation


class _FailureLog:
    """Logs the first failure of an operation and its recovery, not every failure between
    (a quote publisher would otherwise log four lines a second per contract); the observer
    counts every one."""

    def __init__(self, operation: str, observer: BusObserver) -> None:
        self._operation = operation
        self._observer = observer
        self._failing_since: float | None = None

    def failed(self, error: BaseException, **context: str) -> None:
        self._observer.command_failed(self._operation)
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            _log.warning(
                "redis command failing", operation=self._operation, error=str(error), **context
            )

    def succeeded(self) -> None:
        if self._failing_since is not None:
            outage = time.monotonic() - self._failing_since
            self._failing_since = None
            _log.info(
                "redis command working again",
                operation=self._operation,
                outage_seconds=round(outage, 3),
            )


class RedisBus:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "ibkr-grpc:",
        observer: BusObserver | None = None,
    ) -> None:
        self._client = client
        self._subscriber = _subscriber_client(client)
        self._prefix = prefix
        self._observer = observer or NoBusObserver()
        self._publishing = _FailureLog("publish", self._observer)

    async def publish(self, channel: str, payload: bytes) -> None:
        try:
            await self._client.publish(self._prefix + channel, payload)
        except _FAILURES as error:
            # A lost notification is recovered by readers' polling; log, do not fail the writer.
            self._publishing.failed(error, channel=channel)
        else:
            self._publishing.succeeded()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Subscribed on entry when Redis answers (so a message published after entry is
        received); otherwise, and after any lost connection, the messages iterator
        resubscribes with backoff. Messages published while unsubscribed are lost."""
        subscription = _Subscription(
            self._subscriber, self._prefix + channel, channel, self._observer
        )
        await subscription.open()
        try:
            yield subscription.messages()
        finally:
            await subscription.close()

    async def close(self) -> None:
        await self._subscriber.aclose()
        await self._client.aclose()


class _Subscription:
    """One channel's subscription, owned by the reader iterating its messages."""

    def __init__(self, client: Redis, name: str, channel: str, observer: BusObserver) -> None:
        self._client = client
        self._name = name
        self._channel = channel
        self._observer = observer
        self._pubsub: PubSub | None = None
        self._lost_since: float | None = None
        self._delay = RESUBSCRIBE_FIRST_DELAY_SECONDS

    async def open(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._name)
        except _FAILURES as error:
            await _close_quietly(pubsub)
            self._lost(error)
            return
        self._pubsub = pubsub
        self._delay = RESUBSCRIBE_FIRST_DELAY_SECONDS
        if self._lost_since is not None:
            outage = time.monotonic() - self._lost_since
            self._lost_since = None
            _log.info(
                "redis subscription restored",
                channel=self._channel,
                outage_seconds=round(outage, 3),
            )
            self._observer.subscription_restored(self._channel, outage)

    async def messages(self) -> AsyncIterator[bytes]:
        while True:
            pubsub = self._pubsub
            if pubsub is None:
                await asyncio.sleep(self._delay)
                self._delay = min(2 * self._delay, RESUBSCRIBE_MAX_DELAY_SECONDS)
                await self.open()
                continue
            try:
                message = await pubsub.get_message(timeout=READ_SECONDS)
            except _FAILURES as error:
                self._pubsub = None
                await _close_quietly(pubsub)
                self._lost(error)
                continue
            if message is not None and isinstance(message.get("data"), bytes):
                yield message["data"]
            elif message is None:
                await asyncio.sleep(0)

    def _lost(self, error: BaseException) -> None:
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            _log.warning(
                "redis subscription lost; resubscribing",
                channel=self._channel,
                error=str(error),
            )
            self._observer.subscription_lost(self._channel)

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*_FAILURES):
                await pubsub.unsubscribe()
            await _close_quietly(pubsub)
        if self._lost_since is not None:
            self._lost_since = None
            self._observer.subscription_closed_while_lost(self._channel)


async def _close_quietly(pubsub: PubSub) -> None:
    with contextlib.suppress(*_FAILURES):
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def _subscriber_client(client: Redis) -> Redis:
    """A client like `client` for subscriptions only, whose connections never reconnect on
    their own: redis-py would resubscribe silently, hiding the messages lost meanwhile, so
    _Subscription does it instead, and says so."""
    pool = client.connection_pool
    options: dict[str, Any] = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **options))


async def redis_reachable(client: Redis) -> bool:
    try:
        return bool(await client.ping())
    except _FAILURES:
        return False


class RedisCache:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "ibkr-grpc:",
        observer: BusObserver | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        observer = observer or NoBusObserver()
        self._getting = _FailureLog("get", observer)
        self._setting = _FailureLog("set", observer)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._prefix + key)
        except _FAILURES as error:
            self._getting.failed(error, key=key)
            return None
        self._getting.succeeded()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None:
        try:
            await self._client.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))
        except _FAILURES as error:
            self._setting.failed(error, key=key)
        else:
            self._setting.succeeded()

    async def close(self) -> None:
        await self._client.aclose()


async def connect_redis(url: str) -> Redis:
    """A client for `url`, checked with a PING so a wrong REDIS_URL fails at start-up.

    Commands time out (a hung Redis must not hold up a caller for long) and are retried once,
    at once, only when the connection was dropped: after a Redis restart every pooled
    connection is stale, and its first command fails though Redis is back. A timeout is not
    retried, since a hung Redis would not answer the retry either."""
    client = Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1, (RedisConnectionError,)),
    )
    try:
        await client.ping()
    except _FAILURES as error:
        await client.aclose()
        message = f"Redis at REDIS_URL is unreachable: {error}"
        raise ServiceUnavailableError(message) from error
    return client
