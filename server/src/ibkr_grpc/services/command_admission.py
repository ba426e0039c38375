"""A bound on the order commands (PlaceOrder, ModifyOrder) waiting to reach IB.

The server stores and sends an order in about 10-20 ms of CPU (bench/order_path.py), so a
burst above that rate, or above IB's own 50 messages a second, queues. Without a bound the
queue grows with the offered load: at 100 orders a second, most calls outlived their deadline
while their orders still reached IB seconds later, and the caller could not tell which did.
Past the bound a command is refused at once, before anything is stored or sent, with
RATE_LIMIT_EXCEEDED and a RetryInfo of how long the queue ahead takes to drain at the rate
commands have been leaving it: a refusal a caller can act on, for an order that is certainly
not at IB. Admitted commands keep their order (the order manager's mutation lock wakes its
waiters first in, first out). Cancels are never held here: they reduce risk.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from ibkr_grpc.domain.errors import QuotaViolation, RateLimitExceededError

# Retry hints stay within these bounds, whatever the measured rate says.
_RETRY_MINIMUM_SECONDS = 0.1
_RETRY_MAXIMUM_SECONDS = 10.0
# Commands leaving the queue remembered for the rate estimate, and how far back it looks.
_RECENT_DEPARTURES = 64
_RATE_WINDOW_SECONDS = 5.0


class AdmissionTicket:
    """A command's place in the queue, given back once (by whoever holds it then: the caller
    until the command's owned task starts, that task afterwards)."""

    def __init__(self, admission: CommandAdmission) -> None:
        self._admission = admission
        self.handed_over = False
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._left()  # noqa: SLF001  the ticket is the admission's own handle


class CommandAdmission:
    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._waiting = 0
        self._departures: deque[float] = deque(maxlen=_RECENT_DEPARTURES)

    @property
    def waiting(self) -> int:
        return self._waiting

    def enter(self) -> AdmissionTicket:
        """A place in the queue, or RateLimitExceededError when it is full."""
        if self._waiting >= self._limit:
            retry = self._drain_seconds()
            raise RateLimitExceededError(
                f"{self._waiting} order commands are waiting to reach IB (at most "
                f"{self._limit}); nothing was stored or sent: retry in {retry:.1f} s",
                metadata={"limit": str(self._limit), "waiting": str(self._waiting)},
                quota_violations=(
                    QuotaViolation(
                        "order_command_queue",
                        f"at most {self._limit} order commands waiting to reach IB",
                    ),
                ),
                retry_after=timedelta(seconds=retry),
            )
        self._waiting += 1
        return AdmissionTicket(self)

    def _left(self) -> None:
        self._waiting -= 1
        self._departures.append(self._clock())

    def _drain_seconds(self) -> float:
        """How long the commands ahead take to leave, at the rate the ones of the last few
        seconds left (older departures, before a quiet spell, would understate the rate)."""
        now = self._clock()
        recent = [t for t in self._departures if now - t <= _RATE_WINDOW_SECONDS]
        if len(recent) >= 2 and now > recent[0]:
            rate = len(recent) / (now - recent[0])
            estimate = self._waiting / rate
        else:
            estimate = 1.0
        return min(max(estimate, _RETRY_MINIMUM_SECONDS), _RETRY_MAXIMUM_SECONDS)
