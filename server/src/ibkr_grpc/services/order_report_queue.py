"""Broker reports between ib_async's synchronous callbacks and the order store: queued in
arrival order and applied one at a time by one consumer task. While the database is unreachable a
report is kept and tried again with backoff, and every later one waits behind it in order: IB
does not send a fill twice, so a report dropped here would wait for the next reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderMessage,
    BrokerOrderStatus,
)
from ibkr_grpc.domain.errors import ServiceUnavailableError

_log = structlog.get_logger("ibkr_grpc.orders")

Report = (
    BrokerOrderStatus | BrokerExecution | BrokerCommission | BrokerOrderMessage | BrokerOpenOrder
)
# Backoff while the database is unreachable, and how long stop() waits for queued reports.
_RETRY_INITIAL_SECONDS = 0.1
_RETRY_MAXIMUM_SECONDS = 5.0
_STOP_DRAIN_SECONDS = 10.0


class ReportQueue:
    def __init__(
        self, apply: Callable[[Report], Awaitable[None]], *, clock: Callable[[], datetime]
    ) -> None:
        self._apply = apply
        self._clock = clock
        # Reports are facts that must not be lost, and ib_async hands them over in callbacks
        # that cannot wait: unbounded on purpose, its volume bounded by IB's message rate.
        self._reports: asyncio.Queue[Report] = asyncio.Queue()
        self._consumer: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._consume(), name="order-reports")
            self._consumer.add_done_callback(_log_task_end)

    async def stop(self) -> None:
        """Apply what was received (boundedly), then stop. Safe to call twice."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            async with asyncio.timeout(_STOP_DRAIN_SECONDS):
                await self._reports.join()
        except TimeoutError:
            # The database is down: what is left is recovered from IB's own records by the
            # reconciliation at the next start.
            _log.error("stopping with broker reports not applied", queued=self._reports.qsize())
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)

    def put(self, report: Report) -> None:
        self._reports.put_nowait(report)

    async def settled(self) -> None:
        """Wait until every report received so far is applied."""
        await self._reports.join()

    async def _consume(self) -> None:
        while True:
            report = await self._reports.get()
            try:
                await self._apply_until_stored(report)
            finally:
                self._reports.task_done()

    async def _apply_until_stored(self, report: Report) -> None:
        delay = _RETRY_INITIAL_SECONDS
        waiting_since: datetime | None = None
        while True:
            try:
                await self._apply(report)
            except ServiceUnavailableError:
                if waiting_since is None:
                    waiting_since = self._clock()
                    _log.warning(
                        "the database is unreachable; broker reports wait for it",
                        queued=self._reports.qsize() + 1,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAXIMUM_SECONDS)
                continue
            except Exception:  # noqa: BLE001  one bad report must not stop every later one
                _log.exception("could not apply a broker report", report=repr(report))
                return
            if waiting_since is not None:
                _log.info(
                    "broker reports are applied again",
                    waited_seconds=(self._clock() - waiting_since).total_seconds(),
                    queued=self._reports.qsize(),
                )
            return


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("order report consumer failed", exc_info=task.exception())
