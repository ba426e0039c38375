"""The order store against real PostgreSQL and SQLite: the same tests, both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from ibkr_grpc.domain.enums import BracketRole, OrderEventType, OrderStatus, Side
from ibkr_grpc.domain.errors import (
    DuplicateClientOrderIdError,
    OrderNotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from ibkr_grpc.domain.orders import ArrivalQuote
from ibkr_grpc.domain.queries import FillFilter, OrderFilter
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import current_revision, head_revision, upgrade
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.tables import Base
from tests.support.builders import EPOCH, make_fill, make_order
from tests.support.databases import BACKENDS, migrated_database
from tests.support.private_postgres import private_postgres


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def store(database: Database) -> OrderStore:
    return OrderStore(database)


def key_for(order_id: str, key: str = "") -> IdempotencyRecord:
    return IdempotencyRecord(key or f"key-{order_id}", "fingerprint", order_id)


async def test_the_migrations_build_exactly_the_mapped_schema(database: Database) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    assert await current_revision(database) == head_revision()


async def test_decimals_and_times_come_back_exactly(store: OrderStore) -> None:
    order = make_order(quantity="0.0001", limit_price="187.2500000001")
    quote = ArrivalQuote(Decimal("187.24"), Decimal("187.26"), Decimal("187.25"), EPOCH)
    order = replace(order, arrival_quote=quote, filled_quantity=Decimal(0))
    await store.create_orders([order], idempotency=key_for(order.order_id), event_time=EPOCH)
    stored = await store.get(order.order_id)
    assert stored == order
    assert stored.create_time.utcoffset() == timedelta(0)
    assert str(stored.terms.limit_price) == "187.2500000001"


async def test_a_bracket_is_stored_with_linked_legs(store: OrderStore) -> None:
    parent = replace(make_order(), bracket_role=BracketRole.PARENT)
    take_profit = replace(
        make_order(side=Side.SELL, limit_price="190"),
        parent_order_id=parent.order_id,
        bracket_role=BracketRole.TAKE_PROFIT,
    )
    stop_loss = replace(
        make_order(side=Side.SELL, limit_price=None),
        parent_order_id=parent.order_id,
        bracket_role=BracketRole.STOP_LOSS,
    )
    events = await store.create_orders(
        [parent, stop_loss, take_profit], idempotency=key_for(parent.order_id), event_time=EPOCH
    )
    assert [event.event_type for event in events] == [OrderEventType.CREATED] * 3
    stored = await store.get(parent.order_id)
    assert stored.child_order_ids == (take_profit.order_id, stop_loss.order_id)
    assert (await store.get(stop_loss.order_id)).parent_order_id == parent.order_id


async def test_an_idempotency_key_is_stored_once(store: OrderStore) -> None:
    first = make_order()
    await store.create_orders([first], idempotency=key_for(first.order_id, "k1"), event_time=EPOCH)
    assert await store.find_idempotency("k1") == IdempotencyRecord(
        "k1", "fingerprint", first.order_id
    )
    second = make_order()
    with pytest.raises(DuplicateClientOrderIdError):
        await store.create_orders(
            [second], idempotency=key_for(second.order_id, "k1"), event_time=EPOCH
        )
    with pytest.raises(OrderNotFoundError):
        await store.get(second.order_id)
    assert await store.find_idempotency("other") is None


async def test_events_are_sequenced_and_replayed_in_order(store: OrderStore) -> None:
    heard: list[int] = []

    async def listener(sequence: int) -> None:
        heard.append(sequence)

    store.add_listener(listener)
    order = make_order()
    created = await store.create_orders(
        [order], idempotency=key_for(order.order_id), event_time=EPOCH
    )
    sent = replace(order, status=OrderStatus.SUBMITTED, broker_order_id=7, perm_id=9001)
    fill = make_fill(sent, execution_id="exec-1", quantity="10", price="187.20")
    filled = replace(sent, status=OrderStatus.FILLED, filled_quantity=Decimal(10))
    later = await store.record(
        [
            EventDraft(OrderEventType.SENT, sent, EPOCH),
            EventDraft(OrderEventType.FILL, filled, EPOCH, fill=fill, detail="filled"),
        ]
    )
    sequences = [event.sequence for event in created + later]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3
    assert heard == [sequences[0], sequences[2]]
    replayed = await store.events_after(sequences[0])
    assert [event.sequence for event in replayed] == sequences[1:]
    assert replayed[1].order == filled
    assert replayed[1].fill == fill
    assert replayed[1].detail == "filled"
    assert await store.last_sequence() == sequences[-1]
    assert await store.events_after(sequences[-1]) == []
    assert await store.events_after(0, account="DU0000000") == []


async def test_a_fill_seen_twice_is_recorded_once(store: OrderStore) -> None:
    order = replace(make_order(), status=OrderStatus.SUBMITTED, broker_order_id=11)
    await store.create_orders([order], idempotency=key_for(order.order_id), event_time=EPOCH)
    fill = make_fill(order, execution_id="exec-dup", quantity="10", price="187")
    filled = replace(order, status=OrderStatus.FILLED, filled_quantity=Decimal(10))
    first = await store.record([EventDraft(OrderEventType.FILL, filled, EPOCH, fill=fill)])
    again = await store.record([EventDraft(OrderEventType.FILL, filled, EPOCH, fill=fill)])
    assert len(first) == 1
    assert again == []
    assert await store.has_fill("exec-dup")
    page = await store.list_fills(FillFilter(order_id=order.order_id), 10, "")
    assert [f.execution_id for f in page.fills] == ["exec-dup"]
    with_commission = replace(fill, commission=Decimal("1.05"), commission_currency="USD")
    await store.record(
        [EventDraft(OrderEventType.COMMISSION_REPORTED, filled, EPOCH, fill=with_commission)]
    )
    page = await store.list_fills(FillFilter(), 10, "")
    assert page.fills[0].commission == Decimal("1.05")


async def test_orders_page_stably_newest_first_with_filters(store: OrderStore) -> None:
    orders = [
        make_order(symbol="AAPL" if index % 2 else "MSFT", created_minutes=index // 2)
        for index in range(9)
    ]
    for order in orders:
        await store.create_orders([order], idempotency=key_for(order.order_id), event_time=EPOCH)
    seen: list[str] = []
    token = ""
    while True:
        page = await store.list_orders(OrderFilter(symbol="MSFT"), 2, token)
        seen += [order.order_id for order in page.orders]
        token = page.next_page_token
        if not token:
            break
    msft = sorted(
        (order for order in orders if order.contract.symbol == "MSFT"),
        key=lambda order: (order.create_time, order.order_id),
        reverse=True,
    )
    assert seen == [order.order_id for order in msft]
    first = await store.list_orders(OrderFilter(symbol="MSFT"), 2, "")
    with pytest.raises(ValidationError):
        await store.list_orders(OrderFilter(symbol="AAPL"), 2, first.next_page_token)
    with pytest.raises(ValidationError):
        await store.list_orders(OrderFilter(), 2, "not-a-token")


async def test_order_filters(store: OrderStore) -> None:
    working = make_order(account="DU1", created_minutes=1)
    done = make_order(account="DU2", status=OrderStatus.FILLED, created_minutes=5)
    for order in (working, done):
        await store.create_orders([order], idempotency=key_for(order.order_id), event_time=EPOCH)

    async def ids(filters: OrderFilter) -> list[str]:
        return [order.order_id for order in (await store.list_orders(filters, 50, "")).orders]

    assert await ids(OrderFilter(account="DU1")) == [working.order_id]
    assert await ids(OrderFilter(statuses=(OrderStatus.FILLED,))) == [done.order_id]
    assert await ids(OrderFilter(start_time=EPOCH + timedelta(minutes=2))) == [done.order_id]
    assert await ids(OrderFilter(end_time=EPOCH + timedelta(minutes=2))) == [working.order_id]
    assert [order.order_id for order in await store.working_orders()] == [working.order_id]


async def test_broker_ids_are_found_and_never_forgotten(store: OrderStore) -> None:
    order = replace(make_order(broker_order_id=41), perm_id=777)
    await store.create_orders([order], idempotency=key_for(order.order_id), event_time=EPOCH)
    assert await store.max_broker_order_id() == 41
    found = await store.find_by_broker_ids(perm_id=777)
    assert found is not None
    assert found.order_id == order.order_id
    by_order_id = await store.find_by_broker_ids(broker_order_id=41)
    assert by_order_id is not None
    assert by_order_id.order_id == order.order_id
    assert await store.find_by_broker_ids(perm_id=1) is None
    assert await store.find_by_broker_ids() is None


async def test_a_transaction_that_fails_leaves_no_gap_in_the_sequence(
    store: OrderStore, database: Database
) -> None:
    """PostgreSQL sequences are not transactional: a value taken by a rolled-back insert is
    gone. Sequences are allocated in the event's own transaction instead."""
    order = make_order()
    created = await store.create_orders(
        [order], idempotency=key_for(order.order_id), event_time=EPOCH
    )

    async def fail_after_appending() -> None:
        async with database.transaction() as session:
            await store._append(session, [EventDraft(OrderEventType.SENT, order, EPOCH)])
            message = "the transaction fails after its event was written"
            raise RuntimeError(message)

    with pytest.raises(RuntimeError):
        await fail_after_appending()
    recorded = await store.record([EventDraft(OrderEventType.SENT, order, EPOCH)])
    assert recorded[0].sequence == created[-1].sequence + 1
    assert [e.sequence for e in await store.events_after(0)] == [1, 2]


async def test_the_remembered_sequence_is_forgotten_when_a_write_fails(
    store: OrderStore,
) -> None:
    """The store remembers the newest sequence it committed instead of reading it per write;
    a write transaction that fails after appending must not leave that memory advanced."""
    order = make_order()
    created = await store.create_orders(
        [order], idempotency=key_for(order.order_id), event_time=EPOCH
    )

    async def fail_after_appending() -> None:
        async with store._write_lock, store._sequenced_transaction() as session:
            await store._append(session, [EventDraft(OrderEventType.SENT, order, EPOCH)] * 3)
            message = "fails after appending three events"
            raise RuntimeError(message)

    with pytest.raises(RuntimeError):
        await fail_after_appending()
    recorded = await store.record([EventDraft(OrderEventType.SENT, order, EPOCH)])
    assert recorded[0].sequence == created[-1].sequence + 1
    more = await store.record([EventDraft(OrderEventType.MODIFIED, order, EPOCH)] * 2)
    assert [event.sequence for event in more] == [3, 4]
    assert [e.sequence for e in await store.events_after(0)] == [1, 2, 3, 4]


async def test_an_unreachable_database_is_unavailable(tmp_path: Path) -> None:
    """Nothing listens on port 1: the store answers the retryable SERVICE_UNAVAILABLE."""
    unreachable = Database("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(ServiceUnavailableError):
            await OrderStore(unreachable).get("ord_missing")
    finally:
        await unreachable.dispose()


async def test_a_database_shutting_down_is_unavailable() -> None:
    """PostgreSQL in a smart shutdown (a client still connected) refuses new connections with
    SQLSTATE 57P03 "the database system is shutting down": retryable, not an internal error."""
    async with private_postgres() as postgres:
        database = Database(postgres.url)
        await upgrade(database)
        await database.dispose()
        holder = Database(postgres.url)
        held = await holder.engine.connect()  # a client still connected: a smart shutdown waits
        try:
            await held.execute(text("SELECT 1"))
            await postgres.stop_smart()
            with pytest.raises(ServiceUnavailableError):
                await OrderStore(database).get("ord_missing")
        finally:
            await held.close()
            await holder.dispose()
            await database.dispose()
