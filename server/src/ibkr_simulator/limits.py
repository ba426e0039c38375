"""IB's pacing rules: the per-connection message rate and historical-data pacing."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

from ibkr_simulator.config import Limits
from ibkr_simulator.historical import HistoricalRequestError, parse_bar_size


class RateVerdict(Enum):
    """What the gateway does with one incoming message."""

    ACCEPT = "accept"
    # Within the limit but close to it: the client gets one notice (code 0) per second.
    APPROACHING = "approaching"
    # Over the limit: the message is processed, the client gets one error 100 per second.
    WARN = "warn"
    # Over the limit and this message has already been warned about in the current second.
    EXCEEDED = "exceeded"
    # Far over the limit for a whole second: the gateway closes the connection.
    DISCONNECT = "disconnect"


class MessageRateLimiter:
    """A token bucket of one second's allowance per connection.

    A bucket, unlike a sliding window over receive times, does not punish network jitter: a
    client that paces itself below the limit by its own clock (ib_async sends at most 45 per
    second) never trips it, while a sustained excess drives the balance ever further negative.
    """

    def __init__(self, limits: Limits) -> None:
        self._limit = float(limits.messages_per_second)
        # How far below zero the balance may fall before the gateway hangs up.
        self._disconnect_debt = self._limit * max(0.0, limits.disconnect_rate_multiple - 1.0)
        self._tokens = self._limit
        self._last: float | None = None
        self._last_warning = float("-inf")
        self._last_notice = float("-inf")
        self._notice_rate = math.ceil(self._limit * limits.message_rate_notice_fraction)
        self._recent: deque[float] = deque()

    def record(self, now: float) -> RateVerdict:
        if self._last is not None:
            self._tokens = min(self._limit, self._tokens + (now - self._last) * self._limit)
        self._last = now
        self._tokens -= 1.0
        recent = self._recent
        recent.append(now)
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if self._tokens >= 0:
            if len(recent) >= self._notice_rate and now - self._last_notice >= 1.0:
                self._last_notice = now
                return RateVerdict.APPROACHING
            return RateVerdict.ACCEPT
        if -self._tokens > self._disconnect_debt:
            return RateVerdict.DISCONNECT
        if now - self._last_warning >= 1.0:
            self._last_warning = now
            return RateVerdict.WARN
        return RateVerdict.EXCEEDED

    @property
    def current_rate(self) -> int:
        """Messages received in the last second, as error 100 reports them."""
        return len(self._recent)


@dataclass(frozen=True)
class HistoricalKey:
    """What makes two historical requests 'identical' for IB's pacing."""

    con_id: int
    end: str
    duration: str
    bar_size: str
    what_to_show: str


class HistoricalPacing:
    """IB's three historical pacing rules, checked before a request is served.

    They are IB's "Pacing Violations for Small Bars (30 secs or less)"; larger bars are not
    paced, and a BID_ASK request "is counted twice"
    (https://interactivebrokers.github.io/tws-api/historical_limitations.html).
    """

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._requests: deque[tuple[float, HistoricalKey]] = deque()

    def _is_paced(self, key: HistoricalKey) -> bool:
        try:
            return parse_bar_size(key.bar_size) <= self._limits.historical_small_bar_seconds
        except HistoricalRequestError:
            return False  # the request fails on its bar size instead

    def check(self, key: HistoricalKey, now: float) -> str | None:
        """Record the request and return the violation text, or None when it may proceed."""
        if not self._is_paced(key):
            return None
        limits = self._limits
        requests = self._requests
        while requests and now - requests[0][0] > limits.historical_window_seconds:
            requests.popleft()
        identical = any(
            other == key and now - moment < limits.historical_identical_window_seconds
            for moment, other in requests
        )
        same_contract = sum(
            1
            for moment, other in requests
            if other.con_id == key.con_id
            and other.what_to_show == key.what_to_show
            and now - moment < limits.historical_same_contract_window_seconds
        )
        requests.append((now, key))
        if key.what_to_show.upper() == "BID_ASK":
            requests.append((now, key))
        if identical:
            return "Pacing violation: identical request within the last 15 seconds"
        if same_contract + 1 >= limits.historical_same_contract_count:
            return "Pacing violation: too many requests for the same contract within 2 seconds"
        if len(requests) > limits.historical_requests_per_window:
            return "Pacing violation: too many historical requests within 10 minutes"
        return None
