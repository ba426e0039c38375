"""The trading halt: set by admins (the kill switch) or by circuit breakers (daily loss, IB
rejections, a flapping gateway), kept in the database, audited, and streamed to readers.
While halted, new orders get TRADING_HALTED; cancels still work."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from ibkr_grpc.domain.audit import AuditEntry
from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.domain.errors import TradingHaltedError
from ibkr_grpc.domain.portfolio import PortfolioUpdate, ProfitAndLoss
from ibkr_grpc.domain.risk import HaltCause, RiskLimits, TradingState
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.ports import Auditor, NoTelemetry, RiskRepository, Telemetry

_log = structlog.get_logger("ibkr_grpc.trading")
BREAKER = "circuit-breaker"

# Cancels every working order; returns the ids a cancel was requested for.
CancelAll = Callable[[], Awaitable[list[str]]]


class TradingControl:
    def __init__(
        self,
        repository: RiskRepository,
        auditor: Auditor,
        *,
        limits: Callable[[], RiskLimits],
        clock: Callable[[], datetime],
        telemetry: Telemetry | None = None,
    ) -> None:
        self._repository = repository
        self._auditor = auditor
        self._limits = limits
        self._clock = clock
        self._telemetry = telemetry or NoTelemetry()
        self._state = TradingState(halted=False, since=clock())
        self._version = 0
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._rejections: deque[datetime] = deque()
        self._disconnects: deque[datetime] = deque()
        self._was_ready = False
        # Accounts whose daily loss is past the limit: the breaker trips when one enters.
        self._loss_breached: set[str] = set()
        self._cancel_all: CancelAll | None = None
        # Breakers trip from synchronous listeners; their halts run as tasks owned here.
        self._pending: set[asyncio.Task[list[str]]] = set()

    def attach(self, cancel_all: CancelAll) -> None:
        self._cancel_all = cancel_all

    async def load(self) -> None:
        stored = await self._repository.load_state()
        if stored is not None:
            self._set(stored)

    def current(self) -> TradingState:
        return self._state

    def ensure_trading_allowed(self) -> None:
        state = self._state
        if state.halted:
            cause = state.cause.value if state.cause else ""
            raise TradingHaltedError(
                f"trading is halted ({cause.lower()}): {state.reason}",
                cause=cause,
                halted_by=state.halted_by,
            )

    async def halt(
        self, cause: HaltCause, *, by: str, reason: str, cancel_working_orders: bool = False
    ) -> list[str]:
        async with self._lock:
            if not self._state.halted:
                state = TradingState(
                    halted=True, since=self._clock(), cause=cause, halted_by=by, reason=reason
                )
                await self._repository.save_state(state)
                self._set(state)
                _log.warning("trading halted", cause=cause.value, halted_by=by, reason=reason)
                if by == BREAKER:
                    await self._audit("Halt", by, cause.value, reason)
        cancelled: list[str] = []
        if cancel_working_orders and self._cancel_all is not None:
            cancelled = await self._cancel_all()
        return cancelled

    async def resume(self, *, by: str, reason: str) -> None:
        async with self._lock:
            if self._state.halted:
                state = TradingState(halted=False, since=self._clock(), halted_by=by, reason=reason)
                await self._repository.save_state(state)
                self._set(state)
                self._rejections.clear()
                self._disconnects.clear()
                _log.warning("trading resumed", resumed_by=by, reason=reason)

    def _set(self, state: TradingState) -> None:
        self._state = state
        self._version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        self._telemetry.trading_halted(halted=state.halted)

    async def _audit(self, action: str, subject: str, target: str, reason: str) -> None:
        entry = AuditEntry(self._clock(), subject, action, "", target, "OK", {"reason": reason})
        try:
            await self._auditor.record(entry)
        except Exception:  # noqa: BLE001  the halt stands; the failure is logged
            _log.exception("could not audit a circuit-breaker halt")

    async def states(self, heartbeat: timedelta) -> AsyncGenerator[TradingState | Heartbeat]:
        seen = -1
        while True:
            if seen != self._version:
                seen = self._version
                yield self._state
                continue
            changed = self._changed
            try:
                async with asyncio.timeout(heartbeat.total_seconds()):
                    await changed.wait()
            except TimeoutError:
                yield Heartbeat(self._clock())

    # ---- circuit breakers (synchronous listeners) -------------------------------------

    def record_rejection(self) -> None:
        limits = self._limits()
        if limits.max_rejections is None:
            return
        if self._count(self._rejections, limits.rejection_window) >= limits.max_rejections:
            reason = (
                f"{limits.max_rejections} order rejections from IB within {limits.rejection_window}"
            )
            self._trip(HaltCause.REJECTIONS, reason)

    def gateway_state_changed(self, state: GatewayState) -> None:
        ready = state.state is ConnectionState.READY
        if self._was_ready and not ready:
            limits = self._limits()
            if limits.max_disconnects is not None:
                count = self._count(self._disconnects, limits.disconnect_window)
                if count >= limits.max_disconnects:
                    reason = f"{count} gateway disconnects within {limits.disconnect_window}"
                    self._trip(HaltCause.GATEWAY_FLAPPING, reason)
        self._was_ready = ready

    def portfolio_updated(self, update: PortfolioUpdate) -> None:
        limits = self._limits()
        if not isinstance(update, ProfitAndLoss) or limits.daily_loss_limit is None:
            return
        if update.daily_pnl is not None and update.daily_pnl < -limits.daily_loss_limit:
            reason = (
                f"{update.account} daily PnL {update.daily_pnl} is past -{limits.daily_loss_limit}"
            )
            self._trip(HaltCause.DAILY_LOSS, reason)

    def _count(self, times: deque[datetime], window: timedelta) -> int:
        now = self._clock()
        times.append(now)
        while times and times[0] < now - window:
            times.popleft()
        return len(times)

    def _trip(self, cause: HaltCause, reason: str) -> None:
        if self._state.halted:
            return
        task = asyncio.get_running_loop().create_task(self.halt(cause, by=BREAKER, reason=reason))
        self._pending.add(task)
        task.add_done_callback(self._tripped)

    def _tripped(self, task: asyncio.Task[list[str]]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("a circuit breaker could not halt trading", exc_info=task.exception())

    async def settled(self) -> None:
        """Wait for breaker halts in progress (for shutdown and tests)."""
        await asyncio.gather(*self._pending, return_exceptions=True)
