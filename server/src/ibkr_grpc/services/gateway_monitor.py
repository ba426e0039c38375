"""The gateway session's state for readers: the latest state, and feeds of changes that
conflate (a slow reader skips to the newest state; it never falls behind)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta

from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.domain.streams import Heartbeat, Marker, MarkerType


class GatewayMonitor:
    """Fed by the session's state listener; read by GatewayService and every data stream."""

    def __init__(self, initial: GatewayState, *, clock: Callable[[], datetime]) -> None:
        self._state = initial
        self._clock = clock
        self._version = 0
        # Replaced on every change: waiters hold the one that was current when they began.
        self._changed = asyncio.Event()

    def current(self) -> GatewayState:
        return self._state

    def update(self, state: GatewayState) -> None:
        """The session's state listener (synchronous, called on the event loop)."""
        self._state = state
        self._version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def states(self, heartbeat: timedelta) -> AsyncGenerator[GatewayState | Heartbeat]:
        """The current state, then each newer one, with heartbeats while nothing changes."""
        seen = -1
        while True:
            if seen != self._version:
                seen = self._version
                yield self._state
            elif not await self._wait_for_change(seen, heartbeat.total_seconds()):
                yield Heartbeat(self._clock())

    async def markers(self) -> AsyncGenerator[Marker]:
        """GATEWAY_DISCONNECTED when the session stops being READY and GATEWAY_RECONCILED when
        it is READY again (both, if a reconnect happened between two looks)."""
        ready_since = self._ready_since()
        seen = self._version
        while True:
            await self._wait_for_change(seen, None)
            seen = self._version
            now = self._ready_since()
            if ready_since is not None and now != ready_since:
                yield Marker(MarkerType.GATEWAY_DISCONNECTED, self._clock(), self._state.last_error)
            if now is not None and now != ready_since:
                yield Marker(MarkerType.GATEWAY_RECONCILED, self._clock())
            ready_since = now

    def _ready_since(self) -> datetime | None:
        state = self._state
        return state.ready_since if state.state is ConnectionState.READY else None

    async def _wait_for_change(self, seen: int, limit_seconds: float | None) -> bool:
        if self._version != seen:
            return True
        changed = self._changed
        try:
            async with asyncio.timeout(limit_seconds):
                await changed.wait()
        except TimeoutError:
            return False
        return True
