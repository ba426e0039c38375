"""IB's historical-data pacing, kept by the service so that callers queue instead of earning
IB's error 162: an identical request within 15 s is answered from the last result; IB refuses
the sixth request for one contract and tick type within 2 s, so at most 5 go out in any such
window (measured with a margin, since IB clocks arrivals, not departures); at most 60 in 10
minutes; at most 50 in flight. A request that would wait longer than `maximum_wait` is refused with
IB_PACING_VIOLATION and a RetryInfo saying when to come back."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from ibkr_grpc.domain.errors import PacingViolationError
from ibkr_grpc.domain.market_data import Bar, HistoryRequest
from ibkr_grpc.services.single_flight import SingleFlight


@dataclass(frozen=True, slots=True)
class PacingRules:
    identical_window: float = 15.0
    burst_count: int = 5
    burst_window: float = 2.25
    window_count: int = 60
    window_seconds: float = 605.0
    in_flight: int = 50
    maximum_wait: float = 30.0


class HistoricalPacer:
    def __init__(
        self, rules: PacingRules | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rules = rules or PacingRules()
        self._clock = clock
        self._recent: dict[HistoryRequest, tuple[float, list[Bar]]] = {}
        self._identical: SingleFlight[list[Bar]] = SingleFlight()
        self._sent: deque[float] = deque()
        self._sent_by_contract: dict[tuple[int, str], deque[float]] = {}
        self._in_flight = asyncio.Semaphore(self._rules.in_flight)
        self._slots = asyncio.Lock()

    async def run(
        self, request: HistoryRequest, fetch: Callable[[], Awaitable[list[Bar]]]
    ) -> list[Bar]:
        recent = self._recent.get(request)
        if recent is not None and self._clock() - recent[0] < self._rules.identical_window:
            return recent[1]
        return await self._identical.run(request, lambda: self._paced(request, fetch))

    async def _paced(
        self, request: HistoryRequest, fetch: Callable[[], Awaitable[list[Bar]]]
    ) -> list[Bar]:
        async with self._in_flight:
            await self._take_slot(request)
            bars = await fetch()
        self._recent[request] = (self._clock(), bars)
        self._forget_old()
        return bars

    async def _take_slot(self, request: HistoryRequest) -> None:
        key = (request.contract.con_id, request.source.value)
        async with self._slots:
            rules = self._rules
            now = self._clock()
            sent = self._prune(self._sent, now, rules.window_seconds)
            burst = self._prune(
                self._sent_by_contract.setdefault(key, deque()), now, rules.burst_window
            )
            wait = 0.0
            if len(sent) >= rules.window_count:
                wait = max(wait, sent[len(sent) - rules.window_count] + rules.window_seconds - now)
            if len(burst) >= rules.burst_count:
                wait = max(wait, burst[len(burst) - rules.burst_count] + rules.burst_window - now)
            if wait > rules.maximum_wait:
                raise PacingViolationError(
                    f"IB's historical-data pacing allows this request in {wait:.0f} s",
                    metadata={"wait_seconds": f"{wait:.1f}"},
                    retry_after=timedelta(seconds=wait),
                )
            if wait > 0:
                await asyncio.sleep(wait)
                now = self._clock()
            sent.append(now)
            burst.append(now)

    @staticmethod
    def _prune(times: deque[float], now: float, window: float) -> deque[float]:
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def _forget_old(self) -> None:
        now = self._clock()
        stale = [
            key
            for key, (when, _) in self._recent.items()
            if now - when >= self._rules.identical_window
        ]
        for key in stale:
            del self._recent[key]
