"""Real databases for tests: a fresh SQLite file, or a fresh schema in the test PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ibkr_grpc.store.database import Database, normalise_url
from ibkr_grpc.store.migrate import upgrade

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def postgresql_url() -> str:
    return normalise_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))


@asynccontextmanager
async def migrated_database(backend: str, folder: Path) -> AsyncIterator[Database]:
    """A migrated, empty database that is thrown away afterwards.

    PostgreSQL gets a schema of its own per test, so tests never see each other's rows. A
    missing PostgreSQL fails the test: these tests exist to run against the real server.
    """
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{folder / 'test.sqlite3'}")
        try:
            await upgrade(database)
            yield database
        finally:
            await database.dispose()
        return
    url = postgresql_url()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OSError as error:
        await admin.dispose()
        pytest.fail(f"PostgreSQL at {url} is required (set TEST_DATABASE_URL): {error}")
    database = Database(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade(database)
        yield database
    finally:
        await database.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
