"""`ibkr-grpc backup create|schedule|list|restore`: PostgreSQL backups of the server's database.

A backup is one pg_dump archive in custom format, named by the UTC time it was taken
(ibkr-grpc-20261201T031500Z.dump), written under a temporary name and renamed when complete.
Retention keeps the newest `keep` backups and drops those older than `keep_days`, never the
newest one. A restore goes into a fresh database only, so it can never overwrite live data.
The connection comes from DATABASE_URL; its password reaches pg_dump through the environment
(PGPASSWORD), never the command line, and is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from ibkr_grpc.logging_setup import configure_logging
from ibkr_grpc.settings import settings_problems

_log = structlog.get_logger("ibkr_grpc.backup")

_BACKUP_NAME = re.compile(r"^ibkr-grpc-(?P<taken>[0-9]{8}T[0-9]{6}Z)\.dump$")
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_TOOL_TIMEOUT_SECONDS = 6 * 3600


class BackupError(Exception):
    """A backup or restore that failed; the message names no secret."""


class BackupSettings(BaseSettings):
    """What the backup command reads from the environment: the server's DATABASE_URL only (it
    needs none of the server's other settings, such as JWT_SECRET)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    database_url: SecretStr


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """One PostgreSQL database, as libpq's environment variables describe it."""

    url: URL

    @classmethod
    def from_url(cls, url: str) -> PostgresTarget:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            message = (
                f"backups need PostgreSQL; DATABASE_URL names {parsed.get_backend_name()} "
                "(copy an embedded SQLite file with the server stopped)"
            )
            raise BackupError(message)
        if not parsed.database:
            raise BackupError("DATABASE_URL names no database")
        return cls(parsed)

    @property
    def database(self) -> str:
        return self.url.database or ""

    def describe(self) -> str:
        """The database without its password, for messages."""
        return f"{self.url.username or ''}@{self.url.host or ''}:{self.url.port or 5432}/{self.database}"

    def with_database(self, name: str) -> PostgresTarget:
        return PostgresTarget(self.url.set(database=name))

    def environment(self) -> dict[str, str]:
        """The process environment plus the libpq variables that reach this database."""
        variables = dict(os.environ)
        values = {
            "PGHOST": self.url.host,
            "PGPORT": str(self.url.port) if self.url.port else None,
            "PGUSER": self.url.username,
            "PGPASSWORD": self.url.password,
            "PGDATABASE": self.database,
        }
        ssl = self.url.query.get("sslmode") or self.url.query.get("ssl")
        if isinstance(ssl, str):
            values["PGSSLMODE"] = ssl
        variables.update({key: value for key, value in values.items() if value})
        return variables

    def engine_url(self) -> str:
        return self.url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    taken: datetime


def backup_name(taken: datetime) -> str:
    return f"ibkr-grpc-{taken.astimezone(UTC).strftime(_TIME_FORMAT)}.dump"


def list_backups(directory: Path) -> list[Backup]:
    """The backups in `directory`, newest first; other files are not backups and are left be."""
    backups = []
    for path in directory.iterdir() if directory.is_dir() else ():
        match = _BACKUP_NAME.match(path.name)
        if match is not None and path.is_file():
            taken = datetime.strptime(match["taken"], _TIME_FORMAT).replace(tzinfo=UTC)
            backups.append(Backup(path, taken))
    return sorted(backups, key=lambda backup: backup.taken, reverse=True)


def expired_backups(
    backups: Sequence[Backup], *, keep: int | None, keep_days: float | None, now: datetime
) -> list[Backup]:
    """Which of `backups` (newest first) retention removes: beyond the newest `keep`, or
    taken more than `keep_days` ago. The newest is always kept, however old."""
    expired = []
    for index, backup in enumerate(backups):
        beyond_count = keep is not None and index >= keep
        too_old = keep_days is not None and now - backup.taken > timedelta(days=keep_days)
        if index > 0 and (beyond_count or too_old):
            expired.append(backup)
    return expired


def prune(
    directory: Path, *, keep: int | None, keep_days: float | None, now: datetime
) -> list[Backup]:
    expired = expired_backups(list_backups(directory), keep=keep, keep_days=keep_days, now=now)
    for backup in expired:
        backup.path.unlink(missing_ok=True)
    return expired


def postgres_tool(name: str, bin_dir: Path | None) -> str:
    """pg_dump or pg_restore from `bin_dir`, or from PATH (Debian's wrapper picks the newest
    installed version, which must be at least the server's)."""
    found = str(bin_dir / name) if bin_dir is not None else shutil.which(name)
    if found is None or not Path(found).is_file():
        message = f"{name} not found ({'in ' + str(bin_dir) if bin_dir else 'on PATH'}): install PostgreSQL's client tools"
        raise BackupError(message)
    return found


async def _run_tool(command: Sequence[str], target: PostgresTarget) -> None:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=target.environment(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(_TOOL_TIMEOUT_SECONDS):
            output, _ = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        detail = output.decode(errors="replace").strip()[-2000:]
        message = f"{Path(command[0]).name} failed for {target.describe()}: {detail}"
        raise BackupError(message)


def _new_backup_paths(directory: Path, now: datetime) -> tuple[Path, Path]:
    """The backup's final name, and the temporary one it is written under."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / backup_name(now)
    if final.exists():
        raise BackupError(f"{final.name} exists already: one backup per second at most")
    return final, directory / f".{final.name}.partial"


async def create_backup(
    target: PostgresTarget, directory: Path, *, now: datetime, bin_dir: Path | None = None
) -> Backup:
    """Dump the database into `directory` as one custom-format archive named by `now`."""
    pg_dump = postgres_tool("pg_dump", bin_dir)
    final, partial = _new_backup_paths(directory, now)
    try:
        await _run_tool([pg_dump, "--format=custom", "--no-password", f"--file={partial}"], target)
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(final, now.astimezone(UTC).replace(microsecond=0))


async def _table_count(target: PostgresTarget) -> int:
    engine = create_async_engine(target.engine_url())
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def _create_database(target: PostgresTarget) -> None:
    name = target.database
    if not _DATABASE_NAME.match(name):
        raise BackupError(f"will not create a database named {name!r}: use letters, digits, _")
    engine = create_async_engine(
        target.with_database("postgres").engine_url(), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def restore_backup(
    target: PostgresTarget,
    archive: Path,
    *,
    create_database: bool = False,
    bin_dir: Path | None = None,
) -> None:
    """Restore `archive` into the target database, which must be new: missing (with
    `create_database`) or without tables. All or nothing: one transaction."""
    pg_restore = postgres_tool("pg_restore", bin_dir)
    if not await asyncio.to_thread(archive.is_file):
        raise BackupError(f"no backup at {archive}")
    try:
        if create_database:
            await _create_database(target)
        tables = await _table_count(target)
    except (DBAPIError, OSError) as error:
        message = f"cannot reach {target.describe()}: {type(error).__name__}"
        raise BackupError(message) from None  # the driver's text may quote the URL
    if tables:
        message = (
            f"{target.describe()} already has {tables} tables: restore into a new, empty "
            "database (--create-database with a new name in DATABASE_URL)"
        )
        raise BackupError(message)
    await _run_tool(
        [
            pg_restore, "--no-password", "--exit-on-error", "--single-transaction",
            "--no-owner", "--no-privileges", f"--dbname={target.database}", str(archive),
        ],
        target,
    )  # fmt: skip


async def schedule(
    target: PostgresTarget,
    directory: Path,
    *,
    interval: timedelta,
    keep: int | None,
    keep_days: float | None,
    stop: asyncio.Event,
    bin_dir: Path | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """A backup now and then every `interval` until `stop`; a failed one is logged and the
    next comes on time (a failure never prunes)."""
    while not stop.is_set():
        try:
            now = clock()
            backup = await create_backup(target, directory, now=now, bin_dir=bin_dir)
            expired = prune(directory, keep=keep, keep_days=keep_days, now=now)
            _log.info(
                "backup written",
                path=str(backup.path),
                bytes=backup.path.stat().st_size,
                pruned=[old.path.name for old in expired],
            )
        except BackupError as error:
            _log.error("backup failed", reason=str(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval.total_seconds())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc backup",
        description="Back up the PostgreSQL database at DATABASE_URL, or restore a backup.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    tools = argparse.ArgumentParser(add_help=False)
    tools.add_argument("--postgres-bin-dir", type=Path, help="where pg_dump and pg_restore are")
    retention = argparse.ArgumentParser(add_help=False)
    retention.add_argument("--directory", type=Path, required=True, help="the backup folder")
    retention.add_argument("--keep", type=_positive_int, default=7, help="newest backups kept")
    retention.add_argument(
        "--keep-days", type=_positive_float, help="also drop backups older than this"
    )
    actions.add_parser("create", parents=[tools, retention], help="one backup, then prune")
    scheduled = actions.add_parser(
        "schedule", parents=[tools, retention], help="a backup every --interval-hours, pruned"
    )
    scheduled.add_argument("--interval-hours", type=_positive_float, default=24.0)
    listing = actions.add_parser("list", help="the backups, newest first")
    listing.add_argument("--directory", type=Path, required=True)
    restore = actions.add_parser("restore", parents=[tools], help="restore into a new database")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--create-database", action="store_true")
    return parser


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return number


def run(arguments: Sequence[str]) -> int:
    parser = _parser()
    options = parser.parse_args(list(arguments))
    if options.action == "list":
        for backup in list_backups(options.directory):
            size = backup.path.stat().st_size
            print(f"{backup.path.name}  {backup.taken.isoformat()}  {size} bytes")  # noqa: T201
        return 0
    try:
        target = PostgresTarget.from_url(BackupSettings().database_url.get_secret_value())
    except ValidationError as error:
        parser.exit(
            2, "ibkr-grpc backup: invalid settings:\n" + "\n".join(settings_problems(error)) + "\n"
        )
    except BackupError as error:
        parser.exit(2, f"ibkr-grpc backup: {error}\n")
    try:
        return asyncio.run(_act(options, target))
    except BackupError as error:
        print(f"ibkr-grpc backup: {error}", file=sys.stderr)  # noqa: T201
        return 1


async def _act(options: argparse.Namespace, target: PostgresTarget) -> int:
    bin_dir: Path | None = options.postgres_bin_dir
    if options.action == "restore":
        await restore_backup(
            target, options.archive, create_database=options.create_database, bin_dir=bin_dir
        )
        print(f"restored {options.archive.name} into {target.describe()}")  # noqa: T201
        return 0
    if options.action == "create":
        backup = await create_backup(
            target, options.directory, now=datetime.now(UTC), bin_dir=bin_dir
        )
        expired = prune(
            options.directory, keep=options.keep, keep_days=options.keep_days, now=datetime.now(UTC)
        )
        print(backup.path)  # noqa: T201
        for old in expired:
            print(f"pruned {old.path.name}")  # noqa: T201
        return 0
    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    await schedule(
        target,
        options.directory,
        interval=timedelta(hours=options.interval_hours),
        keep=options.keep,
        keep_days=options.keep_days,
        stop=stop,
        bin_dir=bin_dir,
    )
    return 0
