"""The reconnect loop shared by the stream followers: open, read, classify a failure, back off.

The followers decide what each reopened call asks for (order events resume after the last
sequence); this module only knows that a call yields messages until it fails or ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar, cast

import grpc
import grpc.aio

from ibkr_client.errors import ApiError
from ibkr_client.retry import RetryPolicy, is_retryable

_log = logging.getLogger("ibkr_client.streams")

ResponseT = TypeVar("ResponseT")
ResponseT_co = TypeVar("ResponseT_co", covariant=True)

# What a follower may wait for (injected so that tests need not wait real seconds).
Sleep = Callable[[float], Awaitable[None]]

# grpc.aio's end-of-stream sentinel; grpc-stubs types it as a plain object and omits the name.
_END_OF_STREAM: object = grpc.aio.EOF  # type: ignore[attr-defined]


class StreamCall(Protocol[ResponseT_co]):
    """The part of a grpc.aio server-streaming call the loop uses."""

    async def read(self) -> ResponseT_co | object: ...

    def cancel(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Reconnect:
    """A stream broke and is about to be opened again.

    `error` is what ended it: the server's status, or a DEADLINE_EXCEEDED made up here when
    nothing (not even a heartbeat) came for the idle timeout; None when the server ended the
    stream without an error. `attempt` counts the consecutive failures (1 for the first).
    """

    attempt: int
    delay: timedelta
    error: ApiError | None


class StreamEndedError(Exception):
    """The server ended a stream without an error, and the retry policy ran out of attempts."""


@dataclass(frozen=True, slots=True)
class ReconnectOptions:
    """How a follower reconnects; every follower takes one (the defaults suit most callers).

    `idle_timeout`: a stream that delivers nothing for this long, heartbeats included, is
    treated as dropped (a connection that died without a reset). `sleep` and `random_fraction`
    exist so that tests can drive the backoff without waiting. `on_reconnect` is called before
    each wait, for a caller that wants to show or count reconnections.
    """

    policy: RetryPolicy = RetryPolicy()  # noqa: RUF009  frozen, so one shared default is safe
    idle_timeout: timedelta | None = None
    on_reconnect: Callable[[Reconnect], None] | None = None
    sleep: Sleep = asyncio.sleep
    random_fraction: Callable[[], float] = random.random


async def resilient_messages(
    open_call: Callable[[], StreamCall[ResponseT]],
    options: ReconnectOptions,
    *,
    idle_timeout: timedelta,
    name: str,
) -> AsyncGenerator[ResponseT]:
    """Every message of `open_call()`, opening it again after each retryable failure.

    Raises ApiError for a failure that is not retryable, or when the policy gives up. The call
    in progress is cancelled when the generator is closed.
    """
    attempt = 0
    while True:
        call = open_call()
        failure: ApiError | None = None
        try:
            while True:
                async with asyncio.timeout(idle_timeout.total_seconds()):
                    message = await call.read()
                if message is _END_OF_STREAM:
                    break
                attempt = 0
                yield cast("ResponseT", message)
        except grpc.aio.AioRpcError as rpc_error:
            failure = ApiError.from_rpc_error(rpc_error)
            if not is_retryable(failure):
                raise failure from rpc_error
        except TimeoutError:
            seconds = idle_timeout.total_seconds()
            failure = ApiError(
                code=grpc.StatusCode.DEADLINE_EXCEEDED,
                message=f"nothing received for {seconds:g} s, not even a heartbeat",
            )
        finally:
            call.cancel()
        attempt += 1
        if options.policy.gives_up_after(attempt):
            if failure is not None:
                raise failure
            raise StreamEndedError(f"{name} ended {attempt - 1} times in a row")
        delay = options.policy.delay(
            attempt,
            random_fraction=options.random_fraction(),
            server_delay=failure.retry_delay if failure is not None else None,
        )
        _log.warning(
            "%s stream broke (%s); reopening it in %.2f s (attempt %d)",
            name,
            failure if failure is not None else "ended by the server",
            delay.total_seconds(),
            attempt,
        )
        if options.on_reconnect is not None:
            options.on_reconnect(Reconnect(attempt, delay, failure))
        await options.sleep(delay.total_seconds())
