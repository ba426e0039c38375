"""The engine's handling of pooled PostgreSQL connections that died while idle (a server
restart, a proxy or firewall closing idle connections): pinged before use, replaced, and
never a failed call; a connection that dies between its ping window and its use fails as the
one retryable error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ibkr_grpc.domain.errors import ServiceUnavailableError
from ibkr_grpc.store.database import Database
from tests.support.databases import postgresql_url


@pytest.fixture
async def admin() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgresql_url())
    try:
        yield engine
    finally:
        await engine.dispose()


async def backend_pid(database: Database) -> int:
    async with database.transaction() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(admin: AsyncEngine, pid: int) -> None:
    async with admin.begin() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_an_idle_connection_that_died_is_replaced_before_use(admin: AsyncEngine) -> None:
    database = Database(postgresql_url(), idle_ping_seconds=0)
    try:
        first = await backend_pid(database)
        await terminate(admin, first)
        # The pooled connection is dead; the ping at checkout finds it and the pool opens another.
        second = await backend_pid(database)
        assert second != first
    finally:
        await database.dispose()


async def test_a_recently_used_connection_is_not_pinged_and_its_death_is_retryable(
    admin: AsyncEngine,
) -> None:
    database = Database(postgresql_url(), idle_ping_seconds=3600)
    try:
        first = await backend_pid(database)
        await terminate(admin, first)
        with pytest.raises(ServiceUnavailableError):
            await backend_pid(database)
        # The failed connection was discarded: the next call gets a fresh one.
        assert await backend_pid(database) != first
    finally:
        await database.dispose()
