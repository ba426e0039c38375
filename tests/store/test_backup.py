"""Backups of a private PostgreSQL: dump, restore into a fresh database, and the store reads the
orders and the order-event log back and goes on from the same sequence; retention by count and
by age; the command line, which never prints the password."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ibkr_grpc.commands.backup import (
    Backup,
    BackupError,
    PostgresTarget,
    backup_name,
    create_backup,
    expired_backups,
    list_backups,
    prune,
    restore_backup,
    schedule,
)
from ibkr_grpc.domain.enums import OrderEventType, OrderStatus
from ibkr_grpc.domain.orders import Order, OrderEvent
from ibkr_grpc.domain.queries import OrderFilter
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import current_revision, head_revision, upgrade
from ibkr_grpc.store.order_store import OrderStore
from tests.support.builders import EPOCH, make_order
from tests.support.private_postgres import PrivatePostgres, private_postgres
from tests.support.waiting import eventually

NOW = datetime(2026, 12, 1, 3, 15, tzinfo=UTC)
PASSWORD = "not-for-logs-7f3a"


@pytest.fixture
async def postgres() -> AsyncIterator[PrivatePostgres]:
    async with private_postgres() as server:
        yield server


def database_url(server: PrivatePostgres, name: str, *, password: str = "") -> str:
    # The private server trusts every local connection, so a password is accepted and unused:
    # enough to check that it never shows.
    credentials = f"postgres:{password}" if password else "postgres"
    return f"postgresql+asyncpg://{credentials}@127.0.0.1:{server.port}/{name}"


async def create_database(server: PrivatePostgres, name: str) -> None:
    engine = create_async_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def trading_database(server: PrivatePostgres) -> str:
    """A migrated database with three orders, one of them submitted: five events."""
    url = database_url(server, "ibkr")
    await create_database(server, "ibkr")
    database = Database(url)
    try:
        await upgrade(database)
        store = OrderStore(database)
        orders = [make_order(created_minutes=minute) for minute in range(3)]
        for order in orders:
            key = IdempotencyRecord(f"key-{order.order_id}", "fingerprint", order.order_id)
            await store.create_orders([order], idempotency=key, event_time=order.create_time)
        submitted = replace(orders[0], status=OrderStatus.SUBMITTED, broker_order_id=7)
        await store.record(
            [
                EventDraft(OrderEventType.SENT, submitted, EPOCH),
                EventDraft(OrderEventType.STATUS_CHANGED, submitted, EPOCH),
            ]
        )
    finally:
        await database.dispose()
    return url


async def snapshot(url: str) -> tuple[list[Order], list[OrderEvent]]:
    database = Database(url)
    try:
        store = OrderStore(database)
        page = await store.list_orders(OrderFilter(), page_size=50, page_token="")
        events = await store.events_after(0)
    finally:
        await database.dispose()
    return list(page.orders), list(events)


async def test_a_backup_restored_into_a_fresh_database_has_every_order_and_event(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    source = PostgresTarget.from_url(await trading_database(postgres))
    backup = await create_backup(source, tmp_path / "backups", now=NOW)
    assert backup.path.name == "ibkr-grpc-20261201T031500Z.dump"
    assert list_backups(tmp_path / "backups") == [backup]
    assert [path.name for path in (tmp_path / "backups").iterdir()] == [backup.path.name]

    restored_url = database_url(postgres, "ibkr_restored")
    await restore_backup(PostgresTarget.from_url(restored_url), backup.path, create_database=True)
    orders, events = await snapshot(source.engine_url())
    restored_orders, restored_events = await snapshot(restored_url)
    assert len(orders) == 3
    assert [event.sequence for event in events] == [1, 2, 3, 4, 5]
    assert restored_orders == orders
    assert restored_events == events

    # The restored database is a working one: current schema, and the log goes on after 5.
    database = Database(restored_url)
    try:
        assert await current_revision(database) == head_revision()
        store = OrderStore(database)
        order = make_order(created_minutes=9)
        key = IdempotencyRecord("key-after-restore", "fingerprint", order.order_id)
        (created,) = await store.create_orders([order], idempotency=key, event_time=EPOCH)
        assert created.sequence == 6
        assert await store.last_sequence() == 6
    finally:
        await database.dispose()


async def test_a_restore_never_goes_into_a_database_with_tables(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    url = await trading_database(postgres)
    target = PostgresTarget.from_url(url)
    backup = await create_backup(target, tmp_path, now=NOW)
    with pytest.raises(BackupError, match=r"already has \d+ tables: restore into a new"):
        await restore_backup(target, backup.path)
    with pytest.raises(BackupError, match="no backup at"):
        await restore_backup(target, tmp_path / "missing.dump")
    orders, _ = await snapshot(url)
    assert len(orders) == 3


async def test_retention_keeps_the_newest_by_count_and_by_age(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    target = PostgresTarget.from_url(await trading_database(postgres))
    taken = [NOW - timedelta(days=days) for days in (40, 20, 10, 2, 0)]
    for moment in taken:
        await create_backup(target, tmp_path, now=moment)
    (tmp_path / "notes.txt").write_text("not a backup")
    with pytest.raises(BackupError, match="exists already"):
        await create_backup(target, tmp_path, now=NOW)

    pruned = prune(tmp_path, keep=4, keep_days=15, now=NOW)
    assert [backup.taken for backup in pruned] == [
        NOW - timedelta(days=20),
        NOW - timedelta(days=40),
    ]
    assert [backup.taken for backup in list_backups(tmp_path)] == taken[:1:-1]
    pruned = prune(tmp_path, keep=1, keep_days=None, now=NOW)
    assert [backup.path.name for backup in list_backups(tmp_path)] == [backup_name(NOW)]
    assert (tmp_path / "notes.txt").exists()


async def test_the_schedule_backs_up_every_interval_and_prunes_until_stopped(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    target = PostgresTarget.from_url(await trading_database(postgres))
    days = iter(range(100))
    stop = asyncio.Event()
    running = asyncio.create_task(
        schedule(
            target,
            tmp_path,
            interval=timedelta(milliseconds=10),
            keep=2,
            keep_days=None,
            stop=stop,
            clock=lambda: NOW + timedelta(days=next(days)),
        )
    )
    await eventually(
        lambda: (
            list_backups(tmp_path) and list_backups(tmp_path)[0].taken >= NOW + timedelta(days=3)
        ),
        message="the schedule made too few backups",
    )
    stop.set()
    await asyncio.wait_for(running, timeout=30)
    backups = list_backups(tmp_path)
    assert len(backups) == 2
    assert backups[0].taken - backups[1].taken == timedelta(days=1)


def test_the_newest_backup_is_kept_however_old() -> None:
    backups = [
        Backup(Path(backup_name(NOW - timedelta(days=days))), NOW - timedelta(days=days))
        for days in (30, 31)
    ]
    assert expired_backups(backups, keep=5, keep_days=7, now=NOW) == backups[1:]


def test_only_postgresql_can_be_backed_up() -> None:
    with pytest.raises(BackupError, match="backups need PostgreSQL"):
        PostgresTarget.from_url("sqlite+aiosqlite:///var/ibkr-grpc.sqlite3")


def backup_command(url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ibkr_grpc.cli", "backup", *arguments],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_command_backs_up_lists_and_restores_without_showing_the_password(
    postgres: PrivatePostgres, tmp_path: Path
) -> None:
    await trading_database(postgres)
    url = database_url(postgres, "ibkr", password=PASSWORD)
    folder = tmp_path / "backups"
    (folder / "old").mkdir(parents=True)
    old = folder / backup_name(NOW - timedelta(days=400))
    old.write_bytes(b"")

    created = backup_command(url, "create", "--directory", str(folder), "--keep", "1")
    listed = backup_command(url, "list", "--directory", str(folder))
    (backup,) = list_backups(folder)
    restore_url = database_url(postgres, "from_command", password=PASSWORD)
    restored = backup_command(restore_url, "restore", str(backup.path), "--create-database")
    again = backup_command(restore_url, "restore", str(backup.path))
    unreachable = backup_command(
        database_url(postgres, "ibkr", password=PASSWORD).replace(
            f":{postgres.port}/", f":{postgres.port + 1 if postgres.port < 65535 else 1}/"
        ),
        "create",
        "--directory",
        str(folder),
    )
    outputs = [created, listed, restored, again, unreachable]
    assert all(PASSWORD not in run.stdout + run.stderr for run in outputs)
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines() == [str(backup.path), f"pruned {old.name}"]
    assert listed.stdout.startswith(f"{backup.path.name}  ")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == (
        f"restored {backup.path.name} into postgres@127.0.0.1:{postgres.port}/from_command"
    )
    assert again.returncode == 1
    assert "already has" in again.stderr
    assert unreachable.returncode == 1
    assert "pg_dump failed for postgres@127.0.0.1" in unreachable.stderr
    assert (folder / "old").is_dir()
    orders, events = await snapshot(database_url(postgres, "from_command"))
    assert len(orders) == 3
    assert len(events) == 5
