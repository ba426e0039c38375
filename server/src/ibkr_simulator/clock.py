"""Time for the simulator: the controllable simulated clock and the IB text formats built from it."""

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


class SimulatedClock:
    """The one source of simulated time: an instant that runs at `speed` times a source clock.

    With no start it reads the source (the wall clock, as at IB). `set_time` and `advance` move
    it; a speed of 0 stops it, so only `set_time` and `advance` move it then.
    """

    def __init__(
        self,
        start: dt.datetime | None = None,
        speed: float = 1.0,
        *,
        source: Clock = system_clock,
    ) -> None:
        if speed < 0:
            raise ValueError("the clock speed cannot be negative")
        self._source = source
        self._speed = speed
        self._anchor_source = source()
        self._anchor = _aware(start) if start is not None else self._anchor_source

    def __call__(self) -> dt.datetime:
        elapsed = self._source() - self._anchor_source
        return self._anchor + elapsed * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def set_time(self, moment: dt.datetime) -> None:
        """Jump to `moment` (forwards or backwards); the clock runs on from there."""
        self._anchor_source = self._source()
        self._anchor = _aware(moment)

    def advance(self, seconds: float) -> dt.datetime:
        """Move forward by `seconds` of simulated time; returns the new time."""
        if seconds < 0:
            raise ValueError("the clock only advances forwards (use set_time to go back)")
        self.set_time(self() + dt.timedelta(seconds=seconds))
        return self()

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("the clock speed cannot be negative")
        self.set_time(self())
        self._speed = speed


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("simulated times must be timezone-aware")
    return moment.astimezone(dt.UTC)


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant with an offset ('2026-03-03T10:00:00-05:00' or '...Z')."""
    moment = dt.datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or e.g. -05:00)")
    return moment.astimezone(dt.UTC)
