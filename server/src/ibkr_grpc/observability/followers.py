"""Metrics that follow the running components: the gateway session's state and errors, IB
requests, market-data lines, the portfolio, the Redis bus's connection, and the health of the
database and Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from ibkr_grpc.broker.error_codes import group_of
from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.domain.portfolio import PortfolioUpdate, Position, ProfitAndLoss
from ibkr_grpc.observability.metrics import Metrics

_log = structlog.get_logger("ibkr_grpc.observability")


class SessionMetrics:
    """The session's state listener and error listener."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._syncing_since: datetime | None = None
        self._was_ready = False
        self._previous = ConnectionState.DISCONNECTED
        for state in ConnectionState:
            metrics.ib_connection_state.labels(state=state.value).set(0)
        metrics.ib_connection_status.set(0)

    def state_changed(self, state: GatewayState) -> None:
        self._count_connect_attempt(state.state)
        for known in ConnectionState:
            self._metrics.ib_connection_state.labels(state=known.value).set(
                int(known is state.state)
            )
        ready = state.state is ConnectionState.READY
        self._metrics.ib_connection_status.set(int(ready))
        if state.state is ConnectionState.SYNCING:
            self._syncing_since = state.state_change_time
        elif ready and self._syncing_since is not None and state.state_change_time is not None:
            seconds = (state.state_change_time - self._syncing_since).total_seconds()
            self._metrics.ib_reconciliation_seconds.observe(max(seconds, 0.0))
            self._syncing_since = None
            if self._was_ready:
                self._metrics.ib_reconnects.inc()
            self._was_ready = True

    def _count_connect_attempt(self, state: ConnectionState) -> None:
        """An attempt ends when CONNECTING gives way: to SYNCING once the API handshake has
        completed, to DISCONNECTED when it has not (no gateway, or one not logged in)."""
        previous, self._previous = self._previous, state
        if previous is not ConnectionState.CONNECTING or state is ConnectionState.CONNECTING:
            return
        result = "failed" if state is ConnectionState.DISCONNECTED else "connected"
        self._metrics.ib_connect_attempts.labels(result=result).inc()

    def error_received(self, code: int) -> None:
        self._metrics.ib_errors.labels(group=group_of(code)).inc()

    def request_sent(self, kind: str) -> None:
        self._metrics.ib_requests.labels(kind=kind).inc()

    def request_throttled(self) -> None:
        self._metrics.ib_requests_throttled.inc()


class PortfolioMetrics:
    """The portfolio reader's listener: open positions and PnL per account."""

    def __init__(self, metrics: Metrics, positions: Callable[[], list[Position]]) -> None:
        self._metrics = metrics
        self._positions = positions

    def updated(self, update: PortfolioUpdate) -> None:
        if isinstance(update, Position):
            self._metrics.active_positions.set(len(self._positions()))
        elif isinstance(update, ProfitAndLoss):
            for gauge, value in (
                (self._metrics.pnl_unrealized, update.unrealized_pnl),
                (self._metrics.pnl_realized, update.realized_pnl),
                (self._metrics.pnl_daily, update.daily_pnl),
            ):
                if value is not None:
                    gauge.labels(account=update.account).set(float(value))


class BusMetrics:
    """The Redis bus's observer: lost and restored subscriptions, failed commands."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def subscription_lost(self, channel: str) -> None:
        del channel  # channels (one per contract) would make an unbounded label
        self._metrics.redis_subscriptions_lost.inc()
        self._metrics.redis_subscriptions_waiting.inc()

    def subscription_restored(self, channel: str, outage_seconds: float) -> None:
        del channel
        self._metrics.redis_subscriptions_restored.inc()
        self._metrics.redis_subscriptions_waiting.dec()
        self._metrics.redis_outage_seconds.observe(outage_seconds)

    def subscription_closed_while_lost(self, channel: str) -> None:
        del channel
        self._metrics.redis_subscriptions_waiting.dec()

    def command_failed(self, operation: str) -> None:
        self._metrics.redis_command_failures.labels(operation=operation).inc()


class DependencyHealth:
    """Checks the database and Redis every `interval` seconds; owns its task."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        database: Callable[[], Awaitable[bool]],
        redis: Callable[[], Awaitable[bool]] | None,
        interval: float = 10.0,
        on_database: Callable[[bool], None] = lambda _up: None,
    ) -> None:
        self._metrics = metrics
        self._database = database
        self._on_database = on_database
        self._redis = redis
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> None:
        database_up = await self._database()
        self._metrics.database_up.set(int(database_up))
        self._on_database(database_up)
        self._metrics.redis_up.set(int(await self._redis()) if self._redis else 1)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dependency-health")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # noqa: BLE001  a failing check must not end the checking
                _log.exception("dependency health check failed")
            await asyncio.sleep(self._interval)
