"""`ibkr-grpc archive --older-than 90d`: move terminal orders whose last change is older than
the age, with their fills and order events, to the archive tables (store/order_archive.py).

Safe while the server runs: each batch is a short transaction of its own, and the orders it
moves are ones the server no longer writes. The connection comes from DATABASE_URL only (like
`backup`, it needs none of the server's other settings) and is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ibkr_grpc.settings import EMBEDDED_DATABASE_URL, settings_problems
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import current_revision, head_revision
from ibkr_grpc.store.order_archive import BATCH_ORDERS, MINIMUM_AGE, OrderArchiver
from ibkr_grpc.store.order_store import OrderStore

_AGE = re.compile(r"^(?P<days>[0-9]{1,5})d?$")


class ArchiveSettings(BaseSettings):
    """What the archive command reads from the environment: the server's DATABASE_URL."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    database_url: SecretStr = Field(default=SecretStr(EMBEDDED_DATABASE_URL))


def parse_age(text: str) -> timedelta:
    """An age in days, "90d" or "90", of at least MINIMUM_AGE."""
    match = _AGE.match(text.strip())
    if match is None:
        message = f"{text!r} is not an age in days, such as 90d"
        raise argparse.ArgumentTypeError(message)
    age = timedelta(days=int(match["days"]))
    if age < MINIMUM_AGE:
        message = f"archive orders {MINIMUM_AGE.days}d or more after their last change"
        raise argparse.ArgumentTypeError(message)
    return age


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc archive",
        description=(
            "Move terminal orders (filled, cancelled, rejected, inactive, expired) whose last "
            "change is older than the age, with their fills and order events, to the archive "
            "tables of the database at DATABASE_URL."
        ),
    )
    parser.add_argument(
        "--older-than",
        type=parse_age,
        required=True,
        metavar="DAYS",
        help=f"the age in days, such as 90d (at least {MINIMUM_AGE.days}d)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_ORDERS,
        choices=range(1, 10_001),
        metavar="ORDERS",
        help=f"orders per transaction (default {BATCH_ORDERS})",
    )
    return parser


def run(arguments: Sequence[str]) -> int:
    parser = build_parser()
    options = parser.parse_args(list(arguments))
    try:
        settings = ArchiveSettings()
    except ValidationError as error:
        problems = "\n".join(settings_problems(error))
        parser.exit(2, f"ibkr-grpc archive: invalid settings:\n{problems}\n")
    return asyncio.run(_archive(settings, options.older_than, options.batch_size))


async def _archive(settings: ArchiveSettings, older_than: timedelta, batch_size: int) -> int:
    database = Database(settings.database_url.get_secret_value())
    try:
        revision = await current_revision(database)
        if revision != head_revision():
            print(  # noqa: T201
                f"ibkr-grpc archive: the schema is at revision {revision}, not "
                f"{head_revision()}: run `ibkr-grpc db upgrade` first"
            )
            return 1
        now = datetime.now(UTC)
        counts = await OrderArchiver(OrderStore(database)).archive(
            older_than, now=now, batch_size=batch_size
        )
    finally:
        await database.dispose()
    print(  # noqa: T201
        f"archived {counts.orders} orders, {counts.fills} fills and {counts.events} order events "
        f"last changed before {(now - older_than).isoformat(timespec='seconds')}"
    )
    return 0
