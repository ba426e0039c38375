"""Time for the simulator: an injectable UTC clock and the IB text formats built from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The wall clock, always timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def format_ib_datetime(moment: dt.datetime) -> str:
    """IB's 'YYYYMMDD HH:MM:SS zone' form, with UTC as the zone so clients need no tz table."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")


def parse_ib_datetime(text: str, default: dt.datetime) -> dt.datetime:
    """Parse an end time as ib_async writes it ('YYYYMMDD HH:MM:SS UTC', or with '-'); empty means default."""
    stripped = text.strip()
    if not stripped:
        return default
    compact = stripped.replace("-", " ")
    parts = compact.split()
    date_part = parts[0]
    time_part = parts[1] if len(parts) > 1 else "23:59:59"
    naive = dt.datetime.strptime(date_part + time_part, "%Y%m%d%H:%M:%S")  # noqa: DTZ007  the zone is applied below
    zone_name = parts[2] if len(parts) > 2 else "UTC"
    if zone_name in {"UTC", "GMT", "Z"}:
        return naive.replace(tzinfo=dt.UTC)
    return naive.replace(tzinfo=ZoneInfo(zone_name)).astimezone(dt.UTC)
