"""Archival: terminal orders whose last change is older than an age move, with their fills and
order events, from the live tables to orders_archive, fills_archive and order_events_archive.

Each batch is one transaction (copy, then delete), so a row is always in exactly one place, and
a short one, so archival never holds a long lock. A bracket moves only as a whole family: a
parent with a working leg, or a leg whose parent works, stays. NOT_SENT orders stay (a retry
of their client_order_id still sends them), and so do idempotency keys: a retry of an archived
order's request is refused ORDER_NOT_FOUND, never sent to IB again. Archived event sequences
stay taken (OrderStore allocates past them), and a resume from before them is refused
(OrderEventFeed). Keyset page tokens need nothing: the rows after a token are still there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import structlog
from sqlalchemy import Table, and_, delete, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ibkr_grpc.domain.enums import OrderStatus
from ibkr_grpc.store.column_types import UtcDateTime
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.tables import (
    FillRow,
    OrderEventRow,
    OrderRow,
    fills_archive,
    order_events_archive,
    orders_archive,
)

_log = structlog.get_logger("ibkr_grpc.order_archive")

# IB reports an order's executions again for the last day (seven in TWS's trade log) and its
# completed orders for the session: an order that young must stay where reconciliation finds it.
MINIMUM_AGE = timedelta(days=7)
# Orders looked at per transaction (a bracket's family may add its legs).
BATCH_ORDERS = 200
# Values per IN (...) clause: well inside every database's parameter limit.
_IN_CHUNK = 500
ARCHIVABLE_STATUSES = tuple(
    status.value for status in OrderStatus if status.is_final and status is not OrderStatus.NOT_SENT
)


@dataclass(frozen=True, slots=True)
class ArchiveCounts:
    orders: int = 0
    fills: int = 0
    events: int = 0

    def __add__(self, other: ArchiveCounts) -> ArchiveCounts:
        return ArchiveCounts(
            self.orders + other.orders, self.fills + other.fills, self.events + other.events
        )


class OrderArchiver:
    """Moves old terminal orders to the archive tables. Each batch holds the store's write lock,
    so inside the server it never interleaves with the log's writes (the command line, another
    process, has a store of its own: its batches are short transactions instead)."""

    def __init__(self, store: OrderStore) -> None:
        self._store = store
        self._database = store.database

    async def archive(
        self, older_than: timedelta, *, now: datetime, batch_size: int = BATCH_ORDERS
    ) -> ArchiveCounts:
        if older_than < MINIMUM_AGE:
            message = f"orders are archived {MINIMUM_AGE.days} days after their last change at the earliest"
            raise ValueError(message)
        cutoff = now - older_than
        position: tuple[datetime, str] | None = None
        total = ArchiveCounts()
        while True:
            async with self._store.exclusive(), self._database.transaction() as session:
                candidates = await _candidates(session, cutoff, position, batch_size)
                if candidates:
                    position = candidates[-1]
                    families = await _whole_families(
                        session, [key for _, key in candidates], cutoff
                    )
                    total += await _move(session, families, now)
            if len(candidates) < batch_size:
                return total


async def _candidates(
    session: AsyncSession,
    cutoff: datetime,
    position: tuple[datetime, str] | None,
    batch_size: int,
) -> list[tuple[datetime, str]]:
    """The next archivable orders by (update_time, order_id), after `position`."""
    query = select(OrderRow.update_time, OrderRow.order_id).where(
        OrderRow.status.in_(ARCHIVABLE_STATUSES), OrderRow.update_time < cutoff
    )
    if position is not None:
        query = query.where(
            or_(
                OrderRow.update_time > position[0],
                and_(OrderRow.update_time == position[0], OrderRow.order_id > position[1]),
            )
        )
    query = query.order_by(OrderRow.update_time, OrderRow.order_id).limit(batch_size)
    return [(row.update_time, row.order_id) for row in await session.execute(query)]


async def _whole_families(
    session: AsyncSession, order_ids: Sequence[str], cutoff: datetime
) -> list[str]:
    """The orders of every family (a bracket's parent and legs, or a lone order) of these
    orders whose members are all archivable."""
    roots: set[str] = set()
    for start in range(0, len(order_ids), _IN_CHUNK):
        chunk = order_ids[start : start + _IN_CHUNK]
        parents = select(OrderRow.order_id, OrderRow.parent_order_id).where(
            OrderRow.order_id.in_(chunk)
        )
        roots.update(parent or order_id for order_id, parent in await session.execute(parents))
    families: dict[str, list[tuple[str, bool]]] = {}
    ordered = sorted(roots)
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        members = select(
            OrderRow.order_id, OrderRow.parent_order_id, OrderRow.status, OrderRow.update_time
        ).where(or_(OrderRow.order_id.in_(chunk), OrderRow.parent_order_id.in_(chunk)))
        for order_id, parent, status, update_time in await session.execute(members):
            archivable = status in ARCHIVABLE_STATUSES and update_time < cutoff
            families.setdefault(parent or order_id, []).append((order_id, archivable))
    return [
        order_id
        for members in families.values()
        if all(archivable for _, archivable in members)
        for order_id, _ in members
    ]


async def _move(session: AsyncSession, order_ids: Sequence[str], now: datetime) -> ArchiveCounts:
    """Copy the orders, their fills and their events to the archive, then delete them."""
    counts = ArchiveCounts()
    moves = (
        (cast("Table", OrderRow.__table__), orders_archive),
        (cast("Table", FillRow.__table__), fills_archive),
        (cast("Table", OrderEventRow.__table__), order_events_archive),
    )
    for start in range(0, len(order_ids), _IN_CHUNK):
        chunk = order_ids[start : start + _IN_CHUNK]
        moved = []
        for live, archive in moves:
            names = [column.name for column in live.columns]
            rows = select(*live.columns, literal(now, UtcDateTime())).where(
                live.c.order_id.in_(chunk)
            )
            await session.execute(insert(archive).from_select([*names, "archive_time"], rows))
            result = await session.execute(delete(live).where(live.c.order_id.in_(chunk)))
            moved.append(int(result.rowcount))  # type: ignore[attr-defined]
        counts += ArchiveCounts(*moved)
    return counts


class ArchiveSchedule:
    """Archives once at start and then every `interval`, as one supervised task; a failed run
    (the database away) is logged and the next one tries again."""

    def __init__(
        self,
        archiver: OrderArchiver,
        *,
        older_than: timedelta,
        interval: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._archiver = archiver
        self._older_than = older_than
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="order-archive")
            self._task.add_done_callback(_log_failure)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                counts = await self._archiver.archive(self._older_than, now=self._clock())
            except Exception:  # noqa: BLE001  the next run retries; the schedule must not end
                _log.warning("order archival failed; retrying at the next run", exc_info=True)
            else:
                if counts.orders:
                    _log.info(
                        "orders archived",
                        orders=counts.orders,
                        fills=counts.fills,
                        events=counts.events,
                    )
            await asyncio.sleep(self._interval.total_seconds())


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("order archival task failed", exc_info=task.exception())
