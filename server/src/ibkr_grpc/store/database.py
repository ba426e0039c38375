"""The database engine: one per process, created from DATABASE_URL and disposed at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ibkr_grpc.domain.errors import ServiceUnavailableError

_RETRY_AFTER = timedelta(seconds=2)


def normalise_url(url: str) -> str:
    """Accept the plain scheme operators tend to write and pick the async driver for it."""
    parsed = make_url(url)
    drivers = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
    drivers["sqlite"] = "sqlite+aiosqlite"
    name = drivers.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=name).render_as_string(hide_password=False)


def _configure_sqlite(dbapi_connection: Any, _record: object) -> None:
    # WAL lets readers (streams replaying events) run beside the writer; foreign keys are off by
    # default in SQLite; busy_timeout waits for a lock rather than failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    """Owns the engine and hands out sessions."""

    def __init__(
        self, url: str, *, echo: bool = False, connect_args: dict[str, Any] | None = None
    ) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if connect_args:
            options["connect_args"] = connect_args
        if not self.is_sqlite:
            options |= {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that commits on success and rolls back on error. A
        database that cannot be reached is ServiceUnavailableError (retryable)."""
        with _unreachable_is_unavailable():
            async with self._sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; ServiceUnavailableError when the database cannot be reached."""
        with _unreachable_is_unavailable():
            async with self._sessions() as session:
                yield session

    async def is_reachable(self) -> bool:
        """A cheap round trip, for health metrics."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001  any failure means "not reachable", nothing more
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection. Safe to call twice; the engine reconnects if used
        again afterwards (a restarted application on the same database)."""
        await self.engine.dispose()


@contextmanager
def _unreachable_is_unavailable() -> Iterator[None]:
    """Connection failures (refused, reset, a server restarting) as the one retryable error
    the API answers UNAVAILABLE; constraint violations and bugs pass through unchanged."""
    try:
        yield
    except (OperationalError, InterfaceError, OSError, TimeoutError) as error:
        raise ServiceUnavailableError(
            "the database is unreachable", retry_after=_RETRY_AFTER
        ) from error
    except DBAPIError as error:
        if not error.connection_invalidated and not _server_unavailable(error):
            raise
        raise ServiceUnavailableError(
            "the database connection was lost", retry_after=_RETRY_AFTER
        ) from error


def _server_unavailable(error: DBAPIError) -> bool:
    """PostgreSQL refusing work while it shuts down or starts (SQLSTATE class 57P: admin or
    crash shutdown, "cannot connect now") or a connection exception (class 08): a server that
    is not there for now, not a bad statement."""
    cause: BaseException | None = error.orig
    while cause is not None:
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str):
            return state.startswith(("57P", "08"))
        cause = cause.__cause__
    return False
