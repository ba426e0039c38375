"""`ibkr-grpc archive` as installed, against an embedded database; the server's scheduled
archival (ORDER_ARCHIVE_AFTER_DAYS) against the same kind of database."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ibkr_grpc.domain.enums import OrderEventType, OrderStatus
from ibkr_grpc.domain.queries import OrderFilter
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.settings import SettingsError, load_settings
from ibkr_grpc.store.order_archive import ArchiveSchedule, OrderArchiver
from ibkr_grpc.store.order_store import OrderStore
from tests.support.builders import make_order
from tests.support.databases import migrated_database
from tests.support.waiting import eventually

COMMAND = Path(sys.executable).parent / "ibkr-grpc"


async def place(store: OrderStore, status: OrderStatus, changed: datetime) -> str:
    order = replace(make_order(), create_time=changed, update_time=changed)
    key = IdempotencyRecord(order.client_order_id, "fingerprint", order.order_id)
    await store.create_orders([order], idempotency=key, event_time=changed)
    final = replace(order, status=status, update_time=changed)
    await store.record([EventDraft(OrderEventType.STATUS_CHANGED, final, changed)])
    return order.order_id


async def archive_command(url: str, *arguments: str) -> tuple[int, str, str]:
    environment = {**os.environ, "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        "archive",
        *arguments,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def listed(store: OrderStore) -> set[str]:
    return {order.order_id for order in (await store.list_orders(OrderFilter(), 50, "")).orders}


async def test_the_command_archives_old_terminal_orders(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with migrated_database("sqlite", tmp_path) as database:
        store = OrderStore(database)
        old = await place(store, OrderStatus.FILLED, now - timedelta(days=31))
        recent = await place(store, OrderStatus.FILLED, now - timedelta(days=29))
        working = await place(store, OrderStatus.SUBMITTED, now - timedelta(days=31))

        code, output, errors = await archive_command(database.url, "--older-than", "30d")

        assert (code, errors) == (0, "")
        assert output.startswith("archived 1 orders, 0 fills and 2 order events last changed")
        assert await listed(store) == {recent, working}
        assert old not in await listed(store)


async def test_the_command_refuses_a_short_age_and_an_old_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.sqlite3'}"
    code, _, errors = await archive_command(url, "--older-than", "3d")
    assert code == 2
    assert "7d or more" in errors
    code, _, errors = await archive_command(url, "--older-than", "ninety")
    assert code == 2
    assert "not an age in days" in errors
    code, output, _ = await archive_command(url, "--older-than", "90")
    assert code == 1
    assert "ibkr-grpc db upgrade" in output


def test_the_setting_is_off_by_default_and_at_least_seven_days(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_DISABLED", "true")
    assert load_settings().order_archive_after_days is None
    monkeypatch.setenv("ORDER_ARCHIVE_AFTER_DAYS", "90")
    assert load_settings().order_archive_after_days == 90
    monkeypatch.setenv("ORDER_ARCHIVE_AFTER_DAYS", "6")
    with pytest.raises(SettingsError, match="ORDER_ARCHIVE_AFTER_DAYS"):
        load_settings()


async def test_the_schedule_archives_at_start_and_stops(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with migrated_database("sqlite", tmp_path) as database:
        store = OrderStore(database)
        old = await place(store, OrderStatus.CANCELLED, now - timedelta(days=91))
        schedule = ArchiveSchedule(
            OrderArchiver(store),
            older_than=timedelta(days=90),
            interval=timedelta(hours=1),
            clock=lambda: now,
        )
        schedule.start()
        schedule.start()  # idempotent: still one task
        try:
            await eventually(lambda: _gone(store, old))
        finally:
            await schedule.stop()
            await schedule.stop()
        assert await listed(store) == set()


async def _gone(store: OrderStore, order_id: str) -> bool:
    return order_id not in await listed(store)
