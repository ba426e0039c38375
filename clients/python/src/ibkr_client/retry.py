"""When a dropped stream is opened again, and after how long: the retryable codes and the backoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import grpc

from ibkr_client.errors import ApiError

# Codes that say "the stream broke, not your request": the server is away or stopping (its
# SIGTERM ends streams UNAVAILABLE / SERVICE_UNAVAILABLE), the connection dropped, a proxy
# timed the stream out, or the server cancelled the call while going down. CANCELLED from a
# call this client cancelled itself never reaches here: grpc.aio raises CancelledError then.
_ALWAYS_RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter for reopening a stream.

    The n-th consecutive retry waits a random time between `(1 - jitter)` and 1 times
    `min(maximum_delay, initial_delay * multiplier ** (n - 1))`. When the failure carries a
    google.rpc.RetryInfo, the wait is at least its delay (the server knows when it will be
    back), capped at `maximum_server_delay`. The count starts again once a reopened stream
    delivers a message. `maximum_attempts` None retries for as long as the stream is followed;
    a number gives up after that many consecutive failures and raises the last one.
    """

    initial_delay: timedelta = timedelta(milliseconds=500)
    maximum_delay: timedelta = timedelta(seconds=30)
    multiplier: float = 2.0
    jitter: float = 0.5
    maximum_server_delay: timedelta = timedelta(minutes=5)
    maximum_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_delay <= timedelta(0) or self.maximum_delay < self.initial_delay:
            raise ValueError("need 0 < initial_delay <= maximum_delay")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.maximum_attempts is not None and self.maximum_attempts < 1:
            raise ValueError("maximum_attempts must be at least 1 (or None: no limit)")

    def delay(
        self, attempt: int, *, random_fraction: float, server_delay: timedelta | None = None
    ) -> timedelta:
        """The wait before retry number `attempt` (1 for the first), given a random number in
        [0, 1) and the failure's RetryInfo delay, if any."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        # Capped before the power grows: 2.0 ** 2000 overflows a float.
        exponent = min(attempt - 1, 64)
        seconds = min(
            self.maximum_delay.total_seconds(),
            self.initial_delay.total_seconds() * self.multiplier**exponent,
        )
        wait = timedelta(seconds=seconds * (1 - self.jitter * random_fraction))
        if server_delay is not None:
            wait = max(wait, min(server_delay, self.maximum_server_delay))
        return wait

    def gives_up_after(self, attempt: int) -> bool:
        return self.maximum_attempts is not None and attempt > self.maximum_attempts


def is_retryable(error: ApiError) -> bool:
    """True for a failure that reopening the stream may cure; False for one that would fail
    again the same way (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND, ...).

    RESOURCE_EXHAUSTED is retried only with a RetryInfo: the server then says the quota frees
    up; without one (all market-data lines in use, a message too large) it will not.
    """
    if error.code in _ALWAYS_RETRYABLE:
        return True
    return error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay is not None
