"""The trading halt, of every account (account "") or of one: set by admins (the kill switch)
or by circuit breakers (an account's daily loss halts that account; IB rejections and a
flapping gateway halt every account), kept in the database, audited, and streamed to readers.
While an account is halted, or every account is, its new orders and modifications get
TRADING_HALTED; cancels still work.

It fails closed. A halt takes effect in memory at once and is written after; if the write
fails, trading stays halted and a task owned here retries the write until it lands. A resume is
written first and lifts the halt only then; if it cannot be written, the resume fails and
trading stays halted."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import structlog

from ibkr_grpc.domain.audit import AuditEntry
from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.domain.errors import ServiceUnavailableError, TradingHaltedError
from ibkr_grpc.domain.portfolio import PortfolioUpdate, ProfitAndLoss
from ibkr_grpc.domain.risk import HaltCause, RiskLimits, TradingState
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.ports import Auditor, NoTelemetry, RiskRepository, Telemetry

_log = structlog.get_logger("ibkr_grpc.trading")
BREAKER = "circuit-breaker"
EVERY_ACCOUNT = ""

# Cancels the working orders of an account ("" for every account); returns the ids a cancel
# was requested for.
CancelAll = Callable[[str], Awaitable[list[str]]]


class TradingControl:
    def __init__(
        self,
        repository: RiskRepository,
        auditor: Auditor,
        *,
        limits: Callable[[], RiskLimits],
        clock: Callable[[], datetime],
        telemetry: Telemetry | None = None,
        retry_delay: timedelta = timedelta(seconds=1),
        max_retry_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        self._repository = repository
        self._auditor = auditor
        self._limits = limits
        self._clock = clock
        self._telemetry = telemetry or NoTelemetry()
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._states = {EVERY_ACCOUNT: TradingState(halted=False, since=clock())}
        self._version = 0
        self._changed = asyncio.Event()
        # Serialises the writes of trading states, so an older state never lands last.
        self._lock = asyncio.Lock()
        self._rejections: deque[datetime] = deque()
        self._disconnects: deque[datetime] = deque()
        self._was_ready = False
        self._cancel_all: CancelAll | None = None
        # Breakers trip from synchronous listeners; their writes and audits run as tasks owned
        # here, and so do the retries of writes that failed.
        self._pending: set[asyncio.Task[None]] = set()
        self._unsaved: set[str] = set()
        self._retrying: asyncio.Task[None] | None = None
        self._stopped = False

    def attach(self, cancel_all: CancelAll) -> None:
        self._cancel_all = cancel_all

    async def load(self) -> None:
        """Every stored state: the one of every account and each account's own."""
        for state in await self._repository.load_states():
            self._set(state)

    def current(self, account: str = EVERY_ACCOUNT) -> TradingState:
        """The state that applies to `account`: halted when it or every account is halted
        (the halt of every account first, since resuming the account alone would not lift
        it); the state of every account for ""."""
        everyone = self._states[EVERY_ACCOUNT]
        if not account or everyone.halted:
            return everyone
        own = self._states.get(account)
        if own is not None and (own.halted or own.since >= everyone.since):
            return own
        return replace(everyone, account=account)

    def ensure_trading_allowed(self, account: str) -> None:
        state = self.current(account)
        if state.halted:
            cause = state.cause.value if state.cause else ""
            scope = f"for account {state.account}" if state.account else "for every account"
            raise TradingHaltedError(
                f"trading is halted {scope} ({cause.lower()}): {state.reason}",
                cause=cause,
                halted_by=state.halted_by,
                account=state.account,
            )

    async def halt(
        self,
        cause: HaltCause,
        *,
        by: str,
        reason: str,
        cancel_working_orders: bool = False,
        account: str = EVERY_ACCOUNT,
    ) -> list[str]:
        """Halt `account` ("" for every account); a halt already on stays as it is."""
        if self._halt_now(cause, by=by, reason=reason, account=account):
            await self._persist(account)
        cancelled: list[str] = []
        if cancel_working_orders and self._cancel_all is not None:
            cancelled = await self._cancel_all(account)
        return cancelled

    async def resume(self, *, by: str, reason: str, account: str = EVERY_ACCOUNT) -> None:
        """Lift the halt of `account` ("" for the halt of every account; the accounts' own
        halts stay). ServiceUnavailableError, and still halted, if it cannot be stored."""
        async with self._lock:
            current = self._states.get(account)
            if current is None or not current.halted:
                return
            state = TradingState(
                halted=False, since=self._clock(), halted_by=by, reason=reason, account=account
            )
            try:
                await self._repository.save_state(state)
            except Exception as error:
                _log.exception("could not store a resume; trading stays halted", account=account)
                message = "the resume could not be stored, so trading stays halted; try again"
                raise ServiceUnavailableError(message, retry_after=timedelta(seconds=5)) from error
            self._unsaved.discard(account)
            self._set(state)
        if account == EVERY_ACCOUNT:
            self._rejections.clear()
            self._disconnects.clear()
        _log.warning("trading resumed", account=account, resumed_by=by, reason=reason)

    async def states(
        self, heartbeat: timedelta, account: str = EVERY_ACCOUNT
    ) -> AsyncGenerator[TradingState | Heartbeat]:
        """The state that applies to `account` now, then each change of it, with heartbeats
        while nothing changes."""
        seen = -1
        last: TradingState | None = None
        while True:
            if seen != self._version:
                seen = self._version
                state = self.current(account)
                if state != last:
                    last = state
                    yield state
                continue
            changed = self._changed
            try:
                async with asyncio.timeout(heartbeat.total_seconds()):
                    await changed.wait()
            except TimeoutError:
                yield Heartbeat(self._clock())

    async def settled(self) -> None:
        """Wait for breaker halts being written and audited (for shutdown and tests)."""
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def stop(self) -> None:
        """Finish the breaker halts in progress and end the retries, after one last write of
        whatever is still unsaved. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        await self.settled()
        if self._retrying is not None:
            self._retrying.cancel()
            await asyncio.gather(self._retrying, return_exceptions=True)
        if self._unsaved:
            await self._write_unsaved()
        if self._unsaved:
            _log.error(
                "trading halts were never stored: a restart forgets them",
                accounts=sorted(self._unsaved),
            )

    # ---- halts in memory, then in the database -------------------------------------------

    def _halt_now(self, cause: HaltCause, *, by: str, reason: str, account: str) -> bool:
        """Halt in memory, at once; False when the account was halted already."""
        current = self._states.get(account)
        if current is not None and current.halted:
            return False
        state = TradingState(
            halted=True,
            since=self._clock(),
            cause=cause,
            halted_by=by,
            reason=reason,
            account=account,
        )
        self._set(state)
        _log.warning(
            "trading halted", account=account, cause=cause.value, halted_by=by, reason=reason
        )
        return True

    async def _persist(self, account: str) -> None:
        """Write the account's state as it is now. A failed write leaves the state in force in
        memory and is retried until it lands."""
        async with self._lock:
            try:
                await self._repository.save_state(self._states[account])
            except Exception:  # noqa: BLE001  fail closed: the halt holds; the write is retried
                _log.exception("could not store the trading state; retrying", account=account)
                self._unsaved.add(account)
                self._retry_later()
            else:
                self._unsaved.discard(account)

    def _retry_later(self) -> None:
        if self._stopped or (self._retrying is not None and not self._retrying.done()):
            return
        self._retrying = asyncio.get_running_loop().create_task(self._retry_writes())
        self._retrying.add_done_callback(_log_task_end)

    async def _retry_writes(self) -> None:
        delay = self._retry_delay
        while self._unsaved:
            await asyncio.sleep(delay.total_seconds())
            await self._write_unsaved()
            delay = min(delay * 2, self._max_retry_delay)

    async def _write_unsaved(self) -> None:
        async with self._lock:
            for account in sorted(self._unsaved):
                try:
                    await self._repository.save_state(self._states[account])
                except Exception:  # noqa: BLE001  still failing: the next attempt comes later
                    _log.warning("the trading state still cannot be stored", account=account)
                    return
                self._unsaved.discard(account)
                _log.info("trading state stored after a retry", account=account)

    def _set(self, state: TradingState) -> None:
        self._states[state.account] = state
        self._version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        halted = any(each.halted for each in self._states.values())
        self._telemetry.trading_halted(halted=halted)

    async def _audit(self, subject: str, target: str, reason: str, account: str) -> None:
        detail = {"reason": reason, "account": account}
        entry = AuditEntry(self._clock(), subject, "Halt", "", target, "OK", detail)
        try:
            await self._auditor.record(entry)
        except Exception:  # noqa: BLE001  the halt stands; the failure is logged
            _log.exception("could not audit a circuit-breaker halt")

    # ---- circuit breakers (synchronous listeners) -------------------------------------

    def record_rejection(self) -> None:
        limits = self._limits()
        if limits.max_rejections is None:
            return
        if self._count(self._rejections, limits.rejection_window) >= limits.max_rejections:
            reason = (
                f"{limits.max_rejections} order rejections from IB within {limits.rejection_window}"
            )
            self._trip(HaltCause.REJECTIONS, reason, EVERY_ACCOUNT)

    def gateway_state_changed(self, state: GatewayState) -> None:
        ready = state.state is ConnectionState.READY
        if self._was_ready and not ready:
            limits = self._limits()
            if limits.max_disconnects is not None:
                count = self._count(self._disconnects, limits.disconnect_window)
                if count >= limits.max_disconnects:
                    reason = f"{count} gateway disconnects within {limits.disconnect_window}"
                    self._trip(HaltCause.GATEWAY_FLAPPING, reason, EVERY_ACCOUNT)
        self._was_ready = ready

    def portfolio_updated(self, update: PortfolioUpdate) -> None:
        limits = self._limits()
        if not isinstance(update, ProfitAndLoss) or limits.daily_loss_limit is None:
            return
        if update.daily_pnl is not None and update.daily_pnl < -limits.daily_loss_limit:
            reason = (
                f"{update.account} daily PnL {update.daily_pnl} is past -{limits.daily_loss_limit}"
            )
            self._trip(HaltCause.DAILY_LOSS, reason, update.account)

    def _count(self, times: deque[datetime], window: timedelta) -> int:
        now = self._clock()
        times.append(now)
        while times and times[0] < now - window:
            times.popleft()
        return len(times)

    def _trip(self, cause: HaltCause, reason: str, account: str) -> None:
        """Halt now; write and audit the halt in a task owned here."""
        if not self._halt_now(cause, by=BREAKER, reason=reason, account=account):
            return
        task = asyncio.get_running_loop().create_task(self._record_trip(cause, reason, account))
        self._pending.add(task)
        task.add_done_callback(self._tripped)

    async def _record_trip(self, cause: HaltCause, reason: str, account: str) -> None:
        await self._persist(account)
        await self._audit(BREAKER, cause.value, reason, account)

    def _tripped(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        _log_task_end(task)


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("a trading-control task failed", exc_info=task.exception())
