"""Orders, fills, idempotency keys and the order-event log, written together as one unit.

Every write goes through one asyncio lock (the service is the only writer), so the database's
sequence numbers are committed in order and a reader following the log never sees a gap that
fills in later. Listeners hear of each new sequence after its commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ibkr_grpc.domain.enums import OrderEventType, OrderOrigin, OrderStatus
from ibkr_grpc.domain.errors import DuplicateClientOrderIdError, OrderNotFoundError
from ibkr_grpc.domain.orders import Fill, FillPage, Order, OrderEvent, OrderPage
from ibkr_grpc.domain.queries import FillFilter, OrderFilter
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.store import page_tokens
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.recent_writes import RecentWrites
from ibkr_grpc.store.records import (
    fill_columns,
    fill_from_snapshot,
    fill_of,
    fill_snapshot,
    order_columns,
    order_from_snapshot,
    order_of,
    order_snapshot,
)
from ibkr_grpc.store.tables import (
    FillRow,
    IdempotencyKeyRow,
    OrderEventRow,
    OrderRow,
    order_events_archive,
    orders_archive,
)

# Where a transaction notes the last sequence it appended.
_APPENDED_THROUGH = "ibkr_appended_through"
# Values per IN (...) clause: well inside every database's parameter limit.
_IN_CHUNK = 500
# Awaited with the newest committed sequence, by the writer, after each commit (in order).
SequenceListener = Callable[[int], Awaitable[None]]


class OrderStore:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._write_lock = asyncio.Lock()
        self._listeners: list[SequenceListener] = []
        # The newest sequence this process committed (None: read it from the database): set
        # once a transaction that appended events has committed, forgotten when one fails, so
        # a transaction that did not commit consumes no value. The write lock makes this
        # process the log's one writer.
        self._last_sequence: int | None = None
        # What this process committed last, read back without a round trip.
        self._recent = RecentWrites()

    @property
    def database(self) -> Database:
        return self._database

    def add_listener(self, listener: SequenceListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: SequenceListener) -> None:
        self._listeners.remove(listener)

    # ---- writes --------------------------------------------------------------------------

    async def create_orders(
        self,
        orders: Sequence[Order],
        *,
        idempotency: IdempotencyRecord,
        event_time: datetime,
        resend_of: str = "",
    ) -> list[OrderEvent]:
        """Store new orders, their idempotency key and a CREATED event each, atomically.

        With `resend_of`, the key already names that order (which IB never received) and is
        moved to the new one. Raises DuplicateClientOrderIdError if the key is already stored
        (or, with `resend_of`, no longer names that order).
        """
        drafts = [EventDraft(OrderEventType.CREATED, order, event_time) for order in orders]
        async with self._write_lock:
            async with self._sequenced_transaction() as session:
                key = await session.get(IdempotencyKeyRow, idempotency.client_order_id)
                if key is not None and (not resend_of or key.order_id != resend_of):
                    message = f"client_order_id {idempotency.client_order_id!r} is already used"
                    raise DuplicateClientOrderIdError(message)
                if key is None:
                    session.add(
                        IdempotencyKeyRow(
                            client_order_id=idempotency.client_order_id,
                            request_fingerprint=idempotency.request_fingerprint,
                            order_id=idempotency.order_id,
                            create_time=event_time,
                        )
                    )
                else:
                    key.order_id = idempotency.order_id
                session.add_all(OrderRow(**order_columns(order)) for order in orders)
                await session.flush()
                events = await self._append(session, drafts)
            self._recent.committed(events)
            await self._notify(events)
        return events

    async def record(self, drafts: Sequence[EventDraft]) -> list[OrderEvent]:
        """Save each draft's order state and fill, and append its event, atomically.

        A fill whose execution id is already stored is not stored or logged again: its draft is
        dropped, so a fill seen twice (live, then again in reconciliation) appears once.
        """
        async with self._write_lock:
            async with self._sequenced_transaction() as session:
                kept: list[EventDraft] = []
                for draft in drafts:
                    if draft.fill is not None and draft.event_type is OrderEventType.FILL:
                        if await session.get(FillRow, draft.fill.execution_id) is not None:
                            continue
                        session.add(FillRow(**fill_columns(draft.fill)))
                    elif draft.fill is not None:
                        await session.merge(FillRow(**fill_columns(draft.fill)))
                    await self._save_order(session, draft.order)
                    kept.append(draft)
                await session.flush()
                events = await self._append(session, kept)
            self._recent.committed(events)
            await self._notify(events)
        return events

    @asynccontextmanager
    async def _sequenced_transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction that may append events (under the write lock)."""
        try:
            async with self._database.transaction() as session:
                yield session
        except BaseException:
            self._last_sequence = None
            self._recent.forget()
            raise
        appended = session.info.get(_APPENDED_THROUGH)
        if appended is not None:
            self._last_sequence = appended

    async def _save_order(self, session: AsyncSession, order: Order) -> None:
        """One UPDATE of the order's row (an ORM merge would read it first; a Core statement
        skips the ORM's bulk-update bookkeeping, as no row is loaded in this session); an
        INSERT for an order not stored yet (one placed elsewhere, seen for the first time)."""
        columns = order_columns(order)
        table = cast("Table", OrderRow.__table__)
        result = await session.execute(
            update(table).where(table.c.order_id == order.order_id).values(**columns)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            session.add(OrderRow(**columns))

    async def save_fill(self, fill: Fill) -> bool:
        """Store (or update, with its commission) a fill of an order this server does not know;
        such a fill has no order event. False if it was stored already, unchanged."""
        async with self._write_lock:
            try:
                async with self._database.transaction() as session:
                    row = await session.get(FillRow, fill.execution_id)
                    if row is not None and fill_of(row) == fill:
                        return False
                    await session.merge(FillRow(**fill_columns(fill)))
            except BaseException:
                self._recent.forget()
                raise
            self._recent.fill_saved(fill)
        return True

    async def _append(
        self, session: AsyncSession, drafts: Sequence[EventDraft]
    ) -> list[OrderEvent]:
        """Append events with the next sequences, allocated in this transaction: a transaction
        that fails consumes none (a database sequence would lose its values), so the log has no
        gap. The write lock makes this process the only writer."""
        if not drafts:
            return []
        last = self._last_sequence
        if last is None:
            last = await _newest_sequence(session)
        first = last + 1
        rows = [
            OrderEventRow(
                sequence=first + offset,
                order_id=draft.order.order_id,
                account=draft.order.account,
                event_type=draft.event_type.value,
                event_time=draft.event_time,
                order_snapshot=order_snapshot(draft.order),
                fill_snapshot=fill_snapshot(draft.fill),
                detail=draft.detail,
            )
            for offset, draft in enumerate(drafts)
        ]
        session.add_all(rows)
        await session.flush()
        # Kept by _sequenced_transaction once the transaction has committed.
        session.info[_APPENDED_THROUGH] = first + len(rows) - 1
        return [
            OrderEvent(row.sequence, d.event_type, d.event_time, d.order, d.fill, d.detail)
            for row, d in zip(rows, drafts, strict=True)
        ]

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the write lock: archival (store/order_archive.py) moves rows out of the log
        between this process's writes, never in the middle of one."""
        async with self._write_lock:
            try:
                yield
            finally:
                self._recent.forget()

    async def _notify(self, events: Sequence[OrderEvent]) -> None:
        if events:
            newest = events[-1].sequence
            for listener in tuple(self._listeners):
                await listener(newest)

    # ---- reads ---------------------------------------------------------------------------

    async def get(self, order_id: str) -> Order:
        recent = self._recent.order(order_id)
        if recent is not None:
            return recent
        async with self._database.session() as session:
            row = await session.get(OrderRow, order_id)
            if row is None:
                await _refuse_archived(session, order_id)
                message = f"no order {order_id!r}"
                raise OrderNotFoundError(message, metadata={"order_id": order_id})
            return (await self._with_children(session, [row]))[0]

    async def find_idempotency(self, client_order_id: str) -> IdempotencyRecord | None:
        async with self._database.session() as session:
            row = await session.get(IdempotencyKeyRow, client_order_id)
        if row is None:
            return None
        return IdempotencyRecord(row.client_order_id, row.request_fingerprint, row.order_id)

    async def find_by_broker_ids(
        self, *, perm_id: int = 0, broker_order_id: int = 0
    ) -> Order | None:
        """The order IB knows by perm id (stable) or, failing that, by the order id this server's
        client id gave it (order ids of other API clients are in other number spaces)."""
        conditions = []
        if perm_id:
            conditions.append(OrderRow.perm_id == perm_id)
        if broker_order_id:
            conditions.append(
                and_(
                    OrderRow.broker_order_id == broker_order_id,
                    OrderRow.origin == OrderOrigin.THIS_SERVER.value,
                )
            )
        if not conditions:
            return None
        async with self._database.session() as session:
            rows = (await session.scalars(select(OrderRow).where(or_(*conditions)))).all()
            if not rows:
                return None
            best = next((row for row in rows if perm_id and row.perm_id == perm_id), rows[0])
            return (await self._with_children(session, [best]))[0]

    async def orders_known_to_broker(
        self, order_ids: Collection[str], perm_ids: Collection[int]
    ) -> list[Order]:
        """The stored orders among these order ids and IB perm ids, in a few queries (for
        reconciliation, which must not cost one query per order IB lists)."""
        found: dict[str, OrderRow] = {}
        async with self._database.session() as session:
            for column, values in (
                (OrderRow.order_id, list(order_ids)),
                (OrderRow.perm_id, list(perm_ids)),
            ):
                for start in range(0, len(values), _IN_CHUNK):
                    chunk = values[start : start + _IN_CHUNK]
                    rows = (await session.scalars(select(OrderRow).where(column.in_(chunk)))).all()
                    found.update((row.order_id, row) for row in rows)
            return await self._with_children(session, list(found.values()))

    async def fills_by_execution_ids(self, execution_ids: Collection[str]) -> list[Fill]:
        values = list(execution_ids)
        fills: list[Fill] = []
        async with self._database.session() as session:
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                rows = await session.scalars(select(FillRow).where(FillRow.execution_id.in_(chunk)))
                fills.extend(fill_of(row) for row in rows)
        return fills

    async def working_orders(self, account: str = "") -> list[Order]:
        finals = [status.value for status in OrderStatus if status.is_final]
        query = select(OrderRow).where(OrderRow.status.not_in(finals))
        if account:
            query = query.where(OrderRow.account == account)
        async with self._database.session() as session:
            rows = (await session.scalars(query.order_by(OrderRow.create_time))).all()
            return await self._with_children(session, rows)

    async def max_broker_order_id(self) -> int:
        """The highest IB order id used, archived orders included (ids are never reused)."""
        async with self._database.session() as session:
            value = await session.scalar(select(func.max(OrderRow.broker_order_id)))
            archived = await session.scalar(select(func.max(orders_archive.c.broker_order_id)))
        return max(int(value or 0), int(archived or 0))

    async def has_fill(self, execution_id: str) -> bool:
        return await self.get_fill(execution_id) is not None

    async def get_fill(self, execution_id: str) -> Fill | None:
        recent = self._recent.fill(execution_id)
        if recent is not None:
            return recent
        async with self._database.session() as session:
            row = await session.get(FillRow, execution_id)
        return fill_of(row) if row is not None else None

    async def list_orders(self, filters: OrderFilter, page_size: int, page_token: str) -> OrderPage:
        fingerprint = page_tokens.filter_fingerprint("orders", filters)
        position = page_tokens.decode(page_token, fingerprint)
        query = select(OrderRow)
        if filters.account:
            query = query.where(OrderRow.account == filters.account)
        if filters.statuses:
            query = query.where(OrderRow.status.in_([status.value for status in filters.statuses]))
        if filters.symbol:
            query = query.where(OrderRow.symbol == filters.symbol)
        if filters.start_time is not None:
            query = query.where(OrderRow.create_time >= filters.start_time)
        if filters.end_time is not None:
            query = query.where(OrderRow.create_time < filters.end_time)
        if position is not None:
            query = query.where(
                or_(
                    OrderRow.create_time < position.time,
                    and_(OrderRow.create_time == position.time, OrderRow.order_id < position.key),
                )
            )
        query = query.order_by(OrderRow.create_time.desc(), OrderRow.order_id.desc())
        async with self._database.session() as session:
            rows = (await session.scalars(query.limit(page_size + 1))).all()
            orders = await self._with_children(session, rows[:page_size])
        token = ""
        if len(rows) > page_size:
            last = orders[-1]
            token = page_tokens.encode(
                page_tokens.PagePosition(last.create_time, last.order_id), fingerprint
            )
        return OrderPage(orders, token)

    async def list_fills(self, filters: FillFilter, page_size: int, page_token: str) -> FillPage:
        fingerprint = page_tokens.filter_fingerprint("fills", filters)
        position = page_tokens.decode(page_token, fingerprint)
        query = select(FillRow)
        if filters.account:
            query = query.where(FillRow.account == filters.account)
        if filters.order_id:
            query = query.where(FillRow.order_id == filters.order_id)
        if filters.symbol:
            query = query.where(FillRow.symbol == filters.symbol)
        if filters.start_time is not None:
            query = query.where(FillRow.execution_time >= filters.start_time)
        if filters.end_time is not None:
            query = query.where(FillRow.execution_time < filters.end_time)
        if position is not None:
            query = query.where(
                or_(
                    FillRow.execution_time < position.time,
                    and_(
                        FillRow.execution_time == position.time,
                        FillRow.execution_id < position.key,
                    ),
                )
            )
        query = query.order_by(FillRow.execution_time.desc(), FillRow.execution_id.desc())
        async with self._database.session() as session:
            rows = (await session.scalars(query.limit(page_size + 1))).all()
        fills = [fill_of(row) for row in rows[:page_size]]
        token = ""
        if len(rows) > page_size:
            last = fills[-1]
            token = page_tokens.encode(
                page_tokens.PagePosition(last.execution_time, last.execution_id), fingerprint
            )
        return FillPage(fills, token)

    async def events_after(
        self, sequence: int, *, account: str = "", limit: int = 500
    ) -> list[OrderEvent]:
        """Stored events with a greater sequence, oldest first, at most `limit` of them."""
        query = select(OrderEventRow).where(OrderEventRow.sequence > sequence)
        if account:
            query = query.where(OrderEventRow.account == account)
        query = query.order_by(OrderEventRow.sequence).limit(limit)
        async with self._database.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            OrderEvent(
                sequence=row.sequence,
                event_type=OrderEventType(row.event_type),
                event_time=row.event_time,
                order=order_from_snapshot(row.order_snapshot),
                fill=fill_from_snapshot(row.fill_snapshot),
                detail=row.detail,
            )
            for row in rows
        ]

    async def last_sequence(self) -> int:
        async with self._database.session() as session:
            return await _newest_sequence(session)

    async def archived_through(self, *, account: str = "") -> int:
        """The newest archived sequence (of the account), 0 if none: a resume from before it
        would miss events."""
        query = select(func.max(order_events_archive.c.sequence))
        if account:
            query = query.where(order_events_archive.c.account == account)
        async with self._database.session() as session:
            return int(await session.scalar(query) or 0)

    async def sequence_before_newest(self, count: int, *, account: str = "") -> int:
        """The sequence after which the newest `count` events (of the account) begin."""
        query = select(OrderEventRow.sequence)
        if account:
            query = query.where(OrderEventRow.account == account)
        query = query.order_by(OrderEventRow.sequence.desc()).offset(count - 1).limit(1)
        async with self._database.session() as session:
            value = await session.scalar(query)
        return max(int(value) - 1, 0) if value is not None else 0

    async def _with_children(self, session: AsyncSession, rows: Sequence[OrderRow]) -> list[Order]:
        parents = [row.order_id for row in rows if row.bracket_role == "PARENT"]
        children: dict[str, list[tuple[str, str]]] = {}
        if parents:
            query = select(OrderRow.parent_order_id, OrderRow.bracket_role, OrderRow.order_id)
            for parent, role, child in await session.execute(
                query.where(OrderRow.parent_order_id.in_(parents))
            ):
                children.setdefault(parent, []).append((role, child))
        ordered_roles = {"TAKE_PROFIT": 0, "STOP_LOSS": 1}
        return [
            order_of(
                row,
                tuple(
                    child
                    for _, child in sorted(
                        children.get(row.order_id, []),
                        key=lambda item: ordered_roles.get(item[0], 2),
                    )
                ),
            )
            for row in rows
        ]


async def _newest_sequence(session: AsyncSession) -> int:
    """The newest sequence ever appended: archived events keep theirs taken, so the log never
    reuses one, even when archival has moved its newest events out."""
    live = await session.scalar(select(func.max(OrderEventRow.sequence)))
    archived = await session.scalar(select(func.max(order_events_archive.c.sequence)))
    return max(int(live or 0), int(archived or 0))


async def _refuse_archived(session: AsyncSession, order_id: str) -> None:
    """ORDER_NOT_FOUND that says so, for an order archival moved out: its idempotency key
    stays, so a retry of the request that placed it is refused here, never sent again."""
    query = select(orders_archive.c.archive_time).where(orders_archive.c.order_id == order_id)
    archived = await session.scalar(query)
    if archived is not None:
        message = f"order {order_id!r} was archived at {archived.isoformat()}"
        raise OrderNotFoundError(
            message,
            metadata={"order_id": order_id, "archive_time": archived.isoformat()},
        )
