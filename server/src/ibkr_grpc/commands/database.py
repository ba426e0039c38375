"""`ibkr-grpc db upgrade|current`: manage the database schema."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from ibkr_grpc.settings import Settings, SettingsError, load_settings
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import current_revision, head_revision, upgrade


def run(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc db", description="Manage the schema of the database at DATABASE_URL."
    )
    parser.add_argument("action", choices=["upgrade", "current"])
    options = parser.parse_args(list(arguments))
    try:
        settings = load_settings()
    except SettingsError as error:
        parser.exit(2, f"ibkr-grpc db: invalid settings:\n{error}\n")
    return asyncio.run(_run(settings, options.action))


async def _run(settings: Settings, action: str) -> int:
    folder = settings.embedded_database_folder()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url.get_secret_value())
    try:
        if action == "upgrade":
            await upgrade(database)
        revision = await current_revision(database)
        print(f"schema revision: {revision} (newest: {head_revision()})")  # noqa: T201
    finally:
        await database.dispose()
    return 0
