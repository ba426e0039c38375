"""The order store reads back what it has just committed without a round trip (each broker
report about an order starts by finding it), and never serves what did not commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from ibkr_grpc.domain.enums import OrderEventType, OrderStatus
from ibkr_grpc.domain.errors import DuplicateClientOrderIdError
from ibkr_grpc.domain.orders import Order, OrderEvent
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.recent_writes import RecentWrites
from tests.support.builders import EPOCH, make_fill, make_order
from tests.support.databases import BACKENDS, migrated_database


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as database:
        yield database


@contextmanager
def selects(database: Database) -> Iterator[list[str]]:
    """The SELECT statements `database` runs inside the block."""
    seen: list[str] = []

    def statement(*arguments: Any) -> None:
        if str(arguments[2]).lstrip().upper().startswith("SELECT"):
            seen.append(str(arguments[2]))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)


def key(order_id: str) -> IdempotencyRecord:
    return IdempotencyRecord(f"key-{order_id}", "fingerprint", order_id)


async def test_what_the_store_committed_is_read_back_without_a_query(database: Database) -> None:
    store = OrderStore(database)
    order = make_order()
    await store.create_orders([order], idempotency=key(order.order_id), event_time=EPOCH)
    submitted = replace(order, status=OrderStatus.SUBMITTED, broker_order_id=7)
    fill = make_fill(submitted, execution_id="0001.01", quantity="10", price="187.20")
    await store.record([EventDraft(OrderEventType.FILL, submitted, EPOCH, fill=fill)])
    with selects(database) as seen:
        assert await store.get(order.order_id) == submitted
        assert await store.get_fill("0001.01") == fill
    assert seen == []
    # A second store on the same database (another process) reads the same from the database.
    other = OrderStore(database)
    with selects(database) as seen:
        assert await other.get(order.order_id) == submitted
        assert await other.get_fill("0001.01") == fill
    assert len(seen) == 2


async def test_a_failed_write_leaves_nothing_remembered(database: Database) -> None:
    store = OrderStore(database)
    order = make_order()
    await store.create_orders([order], idempotency=key(order.order_id), event_time=EPOCH)
    again = make_order()
    reused = replace(key(again.order_id), client_order_id=f"key-{order.order_id}")
    with pytest.raises(DuplicateClientOrderIdError):
        await store.create_orders([again], idempotency=reused, event_time=EPOCH)
    with selects(database) as seen:
        assert await store.get(order.order_id) == order
    assert len(seen) == 1  # forgotten with the failed transaction: read from the database


async def test_archival_makes_the_store_forget(database: Database) -> None:
    store = OrderStore(database)
    order = make_order()
    await store.create_orders([order], idempotency=key(order.order_id), event_time=EPOCH)
    async with store.exclusive():
        pass  # archival moves rows out while it holds the write lock
    with selects(database) as seen:
        await store.get(order.order_id)
    assert seen


def test_the_oldest_entries_go_past_the_bound() -> None:
    recent = RecentWrites(limit=2)
    orders: list[Order] = [make_order() for _ in range(3)]
    for order in orders:
        recent.committed([OrderEvent(1, OrderEventType.CREATED, EPOCH, order)])
    assert recent.order(orders[0].order_id) is None
    assert [recent.order(o.order_id) for o in orders[1:]] == orders[1:]


def test_nothing_is_served_past_its_lifetime() -> None:
    """Archival in another process (the command line) cannot tell this store: an entry older
    than an hour is read from the database again, and archival takes only week-old orders."""
    recent = RecentWrites(lifetime=0.0)
    order = make_order()
    recent.committed([OrderEvent(1, OrderEventType.CREATED, EPOCH, order)])
    assert recent.order(order.order_id) is None
