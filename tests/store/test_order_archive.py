"""Archival of terminal orders against real PostgreSQL and SQLite: which rows move, that the
event log's sequences and resumes, page tokens and idempotency keys stay right afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ibkr_grpc.bus.in_process import InProcessBus
from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import BracketRole, ConnectionState, OrderEventType, OrderStatus
from ibkr_grpc.domain.errors import (
    DuplicateClientOrderIdError,
    EventsArchivedError,
    OrderNotFoundError,
)
from ibkr_grpc.domain.orders import Order, OrderEvent
from ibkr_grpc.domain.queries import FillFilter, OrderFilter
from ibkr_grpc.domain.streams import Marker
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.order_event_feed import OrderEventFeed
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.order_archive import ArchiveCounts, OrderArchiver
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.tables import fills_archive, order_events_archive, orders_archive
from tests.support.builders import EPOCH, make_fill, make_order
from tests.support.databases import BACKENDS, migrated_database

AGE = timedelta(days=90)
NOW = EPOCH + timedelta(days=120)
# Last changed 91 days before NOW: old enough. 89 days: too recent.
OLD = NOW - timedelta(days=91)
RECENT = NOW - timedelta(days=89)


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def store(database: Database) -> OrderStore:
    return OrderStore(database)


@pytest.fixture
def archiver(store: OrderStore) -> OrderArchiver:
    return OrderArchiver(store)


async def place(
    store: OrderStore,
    status: OrderStatus,
    changed: datetime,
    *,
    fills: int = 0,
    account: str = "DU1234567",
    order: Order | None = None,
) -> Order:
    """An order created at `changed` and taken to `status` (with `fills` fills) then."""
    order = order or make_order(account=account)
    order = replace(order, create_time=changed, update_time=changed)
    key = IdempotencyRecord(order.client_order_id, "fingerprint", order.order_id)
    await store.create_orders([order], idempotency=key, event_time=changed)
    drafts = []
    for index in range(fills):
        fill = replace(
            make_fill(order, execution_id=f"{order.order_id}-{index}", quantity="1", price="187"),
            execution_time=changed,
        )
        drafts.append(EventDraft(OrderEventType.FILL, order, changed, fill=fill))
    final = replace(order, status=status, update_time=changed)
    drafts.append(EventDraft(OrderEventType.STATUS_CHANGED, final, changed))
    await store.record(drafts)
    return final


async def count(database: Database, table: object) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def test_only_old_terminal_orders_move_with_their_fills_and_events(
    database: Database, store: OrderStore, archiver: OrderArchiver
) -> None:
    filled = await place(store, OrderStatus.FILLED, OLD, fills=2)
    cancelled = await place(store, OrderStatus.CANCELLED, OLD)
    expired = await place(store, OrderStatus.EXPIRED, OLD)
    working = await place(store, OrderStatus.SUBMITTED, OLD)
    recent = await place(store, OrderStatus.FILLED, RECENT, fills=1)
    # IB never received it: a retry of its key still sends it, so it stays where that looks.
    not_sent = await place(store, OrderStatus.NOT_SENT, OLD)

    counts = await archiver.archive(AGE, now=NOW)

    assert counts == ArchiveCounts(orders=3, fills=2, events=4 + 2 + 2)
    left = await store.list_orders(OrderFilter(), 50, "")
    assert {order.order_id for order in left.orders} == {
        working.order_id,
        recent.order_id,
        not_sent.order_id,
    }
    fills = await store.list_fills(FillFilter(), 50, "")
    assert [fill.order_id for fill in fills.fills] == [recent.order_id]
    remaining = await store.events_after(0)
    assert {event.order.order_id for event in remaining} == {
        working.order_id,
        recent.order_id,
        not_sent.order_id,
    }
    assert await count(database, orders_archive) == 3
    assert await count(database, fills_archive) == 2
    assert await count(database, order_events_archive) == 8
    async with database.session() as session:
        archived = (
            await session.execute(
                select(orders_archive.c.order_id, orders_archive.c.status)
                .where(orders_archive.c.order_id.in_([filled.order_id, cancelled.order_id]))
                .order_by(orders_archive.c.status)
            )
        ).all()
    assert archived == sorted(
        [(cancelled.order_id, "CANCELLED"), (filled.order_id, "FILLED")], key=lambda r: r[1]
    )
    assert expired.status is OrderStatus.EXPIRED
    # A second run finds nothing more.
    assert await archiver.archive(AGE, now=NOW) == ArchiveCounts()


async def test_a_bracket_moves_only_as_a_whole_family(
    store: OrderStore, archiver: OrderArchiver
) -> None:
    def bracket() -> tuple[Order, Order, Order]:
        parent = replace(make_order(), bracket_role=BracketRole.PARENT)
        legs = (
            replace(
                make_order(), parent_order_id=parent.order_id, bracket_role=BracketRole.TAKE_PROFIT
            ),
            replace(
                make_order(), parent_order_id=parent.order_id, bracket_role=BracketRole.STOP_LOSS
            ),
        )
        return parent, *legs

    done = bracket()
    await place(store, OrderStatus.FILLED, OLD, order=done[0])
    await place(store, OrderStatus.FILLED, OLD, order=done[1])
    await place(store, OrderStatus.CANCELLED, OLD, order=done[2])
    # A filled parent whose stop loss still works: none of the three may go.
    live = bracket()
    await place(store, OrderStatus.FILLED, OLD, order=live[0])
    await place(store, OrderStatus.CANCELLED, OLD, order=live[1])
    await place(store, OrderStatus.SUBMITTED, OLD, order=live[2])

    counts = await archiver.archive(AGE, now=NOW, batch_size=1)

    assert counts.orders == 3
    left = {order.order_id for order in (await store.list_orders(OrderFilter(), 50, "")).orders}
    assert left == {order.order_id for order in live}
    parent = await store.get(live[0].order_id)
    assert parent.child_order_ids == (live[1].order_id, live[2].order_id)


async def test_batches_take_every_old_order(store: OrderStore, archiver: OrderArchiver) -> None:
    for minutes in range(7):
        await place(store, OrderStatus.FILLED, OLD + timedelta(minutes=minutes))
    assert (await archiver.archive(AGE, now=NOW, batch_size=2)).orders == 7
    assert (await store.list_orders(OrderFilter(), 50, "")).orders == []


async def test_an_age_under_the_minimum_is_refused(archiver: OrderArchiver) -> None:
    with pytest.raises(ValueError, match="7 days"):
        await archiver.archive(timedelta(days=6), now=NOW)


async def test_sequences_continue_after_the_newest_events_are_archived(
    database: Database, store: OrderStore, archiver: OrderArchiver
) -> None:
    await place(store, OrderStatus.FILLED, OLD, fills=1)
    newest = await store.last_sequence()
    await archiver.archive(AGE, now=NOW)
    assert await store.events_after(0) == []
    # The running store (its last sequence remembered) continues after the archived ones.
    order = await place(store, OrderStatus.CANCELLED, NOW)
    assert [e.sequence for e in await store.events_after(0)] == [newest + 1, newest + 2]
    await archiver.archive(AGE, now=NOW + timedelta(days=100))
    # A new process (no sequence remembered) too, even with every event archived.
    restarted = OrderStore(database)
    assert await restarted.events_after(0) == []
    assert await restarted.last_sequence() == newest + 2
    later = await place(restarted, OrderStatus.SUBMITTED, NOW)
    events = await restarted.events_after(0)
    assert [event.sequence for event in events] == [newest + 3, newest + 4]
    assert {event.order.order_id for event in events} == {later.order_id}
    assert order.order_id != later.order_id


async def test_an_archived_orders_key_stays_used_and_its_retry_is_refused(
    store: OrderStore, archiver: OrderArchiver
) -> None:
    filled = await place(store, OrderStatus.FILLED, OLD, fills=1)
    await archiver.archive(AGE, now=NOW)

    key = await store.find_idempotency(filled.client_order_id)
    assert key is not None
    assert key.order_id == filled.order_id
    # What an idempotent retry reads (OrderManager._replay): a refusal that names the archive.
    with pytest.raises(OrderNotFoundError, match="archived") as refused:
        await store.get(filled.order_id)
    assert refused.value.metadata["order_id"] == filled.order_id
    assert refused.value.metadata["archive_time"] == NOW.isoformat()
    # The key can never name a second order.
    again = make_order(client_order_id=filled.client_order_id)
    with pytest.raises(DuplicateClientOrderIdError):
        await store.create_orders(
            [again],
            idempotency=IdempotencyRecord(again.client_order_id, "fingerprint", again.order_id),
            event_time=NOW,
        )
    # Its IB order id stays taken too.
    assert await store.max_broker_order_id() == filled.broker_order_id


async def test_page_tokens_taken_before_archival_still_page_correctly(
    store: OrderStore, archiver: OrderArchiver
) -> None:
    # Newest first: orders 9..0 by create time; the odd ones are old and filled.
    orders = []
    for index in range(10):
        status = OrderStatus.FILLED if index % 2 else OrderStatus.SUBMITTED
        changed = OLD - timedelta(minutes=10 - index) if index % 2 else RECENT
        order = replace(make_order(), create_time=EPOCH + timedelta(minutes=index))
        order = replace(order, update_time=changed)
        key = IdempotencyRecord(order.client_order_id, "fingerprint", order.order_id)
        await store.create_orders([order], idempotency=key, event_time=EPOCH)
        fill = replace(
            make_fill(order, execution_id=f"exec-{index}", quantity="1", price="1"),
            execution_time=EPOCH + timedelta(minutes=index),
        )
        final = replace(order, status=status, filled_quantity=Decimal(1))
        await store.record([EventDraft(OrderEventType.FILL, final, changed, fill=fill)])
        orders.append(final)
    first_orders = await store.list_orders(OrderFilter(), 3, "")
    first_fills = await store.list_fills(FillFilter(), 3, "")

    await archiver.archive(AGE, now=NOW)

    async def rest_of_orders(token: str) -> list[str]:
        seen = []
        while token:
            page = await store.list_orders(OrderFilter(), 3, token)
            seen += [order.order_id for order in page.orders]
            token = page.next_page_token
        return seen

    async def rest_of_fills(token: str) -> list[str]:
        seen = []
        while token:
            page = await store.list_fills(FillFilter(), 3, token)
            seen += [fill.execution_id for fill in page.fills]
            token = page.next_page_token
        return seen

    assert [order.order_id for order in first_orders.orders] == [
        orders[index].order_id for index in (9, 8, 7)
    ]
    # Every retained order after the token's position, once, in order.
    assert await rest_of_orders(first_orders.next_page_token) == [
        orders[index].order_id for index in (6, 4, 2, 0)
    ]
    assert await rest_of_fills(first_fills.next_page_token) == [
        f"exec-{index}" for index in (6, 4, 2, 0)
    ]


def feed_of(store: OrderStore) -> OrderEventFeed:
    ready = GatewayState(ConnectionState.READY, "127.0.0.1", 4002, 1, ready_since=NOW)
    return OrderEventFeed(
        store, GatewayMonitor(ready, clock=lambda: NOW), InProcessBus(), clock=lambda: NOW
    )


async def replayed(
    store: OrderStore, *, after_sequence: int = 0, account: str = "", from_start: bool = False
) -> list[int]:
    """The sequences a StreamOrderEvents replay sends before REPLAY_COMPLETE."""
    sequences: list[int] = []
    events = feed_of(store).follow(
        after_sequence=after_sequence,
        account=account,
        heartbeat=timedelta(seconds=30),
        replay_from_start=from_start,
    )
    async with aclosing(events) as items:
        async for item in items:
            if isinstance(item, Marker):
                return sequences
            assert isinstance(item, OrderEvent)
            sequences.append(item.sequence)
    raise AssertionError


async def test_a_resume_before_archived_events_is_refused_and_after_them_is_whole(
    store: OrderStore, archiver: OrderArchiver
) -> None:
    # Sequences 1-2: a working order; 3-4: an old filled one; 5-6: another working order.
    working = await place(store, OrderStatus.SUBMITTED, OLD, account="DU1")
    await place(store, OrderStatus.FILLED, OLD, account="DU1")
    await place(store, OrderStatus.SUBMITTED, OLD, account="DU2")
    assert await replayed(store, after_sequence=1) == [2, 3, 4, 5, 6]

    await archiver.archive(AGE, now=NOW)

    for after in (1, 2, 3):
        with pytest.raises(EventsArchivedError) as refused:
            await replayed(store, after_sequence=after)
        assert refused.value.metadata == {
            "after_sequence": str(after),
            "archived_through_sequence": "4",
            "oldest_retained_sequence": "5",
        }
        assert refused.value.reason == "EVENTS_ARCHIVED"
        assert refused.value.field_violations[0].field == "after_sequence"
    # From the newest archived sequence on, nothing is missing.
    assert await replayed(store, after_sequence=4) == [5, 6]
    assert await replayed(store, after_sequence=5) == [6]
    # The other account lost nothing after 1: its resume is unaffected.
    assert await replayed(store, after_sequence=1, account="DU2") == [5, 6]
    with pytest.raises(EventsArchivedError):
        await replayed(store, after_sequence=2, account="DU1")
    # A replay from the start replays what the log retains.
    assert await replayed(store, from_start=True) == [1, 2, 5, 6]
    assert working.account == "DU1"
