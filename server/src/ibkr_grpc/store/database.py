"""The database engine: one per process, created from DATABASE_URL and disposed at shutdown."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from ibkr_grpc.domain.errors import ServiceUnavailableError

_RETRY_AFTER = timedelta(seconds=2)
# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0


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
        self,
        url: str,
        *,
        echo: bool = False,
        connect_args: dict[str, Any] | None = None,
        idle_ping_seconds: float = IDLE_PING_SECONDS,
    ) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {"echo": echo}
        if connect_args:
            options["connect_args"] = connect_args
        if not self.is_sqlite:
            options |= {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            # A connection to a local file does not go stale: nothing to ping.
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        else:
            _ping_connections_left_idle(self.engine, idle_ping_seconds)
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


def _ping_connections_left_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before handing it out only when it has been idle for a while.

    SQLAlchemy's pool_pre_ping pings at every checkout: a round trip before each of an order's
    transactions (a tenth of the server's CPU on the order path, measured with py-spy). A
    connection used within the last `idle_seconds` is handed out as it is; one left idle longer
    (across a PostgreSQL restart, say) is pinged, and a dead one is replaced before use. A
    connection that dies while in use still fails its statement, which is the retryable
    ServiceUnavailableError below, as it was with pre-ping."""
    pool = engine.sync_engine.pool
    dialect: Dialect = engine.sync_engine.dialect

    def checked_in(_connection: object, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    def checked_out(
        connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return
        try:
            dialect.do_ping(connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(f"a pooled connection failed its ping: {error}") from error

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)


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
