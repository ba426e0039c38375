"""Trading calendars of the simulated markets: US equities (NYSE hours and holidays) and forex 24/5.

US equities: regular hours 09:30-16:00 New York time, pre-market from 04:00 and after-hours to
20:00, closed on weekends and NYSE holidays, and a 13:00 close (after-hours to 17:00) on early
closing days. The rules below compute NYSE's published holiday calendar for any year
(https://www.nyse.com/markets/hours-calendars, NYSE Rule 7.2): a holiday on a Saturday is
observed the Friday before, except New Year's Day (no Friday closure at a year end), and one
on a Sunday the Monday after. Closures announced ad hoc (national days of mourning, storms) are
not computable and not modelled.

Forex (IDEALPRO): one session per weekday, from 17:00 New York the evening before to 17:00;
the week runs from Sunday 17:00 to Friday 17:00, with no holidays and no extended hours.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
# The zone name IB writes in its order messages for US markets ("... 09:30:00 US/Eastern").
IB_ZONE_NAME = "US/Eastern"
SATURDAY = 5
SUNDAY = 6
# How far a search for the next session may look: longer than any run of closed days.
SEARCH_DAYS = 14


class Phase(enum.Enum):
    """Where a moment falls in a market's day."""

    CLOSED = "closed"
    PRE_MARKET = "pre-market"
    REGULAR = "regular"
    AFTER_HOURS = "after-hours"


@dataclass(frozen=True)
class Session:
    """One trading day of one market, as aware UTC instants."""

    day: dt.date
    extended_open: dt.datetime
    regular_open: dt.datetime
    regular_close: dt.datetime
    extended_close: dt.datetime

    def phase(self, moment: dt.datetime) -> Phase:
        if self.regular_open <= moment < self.regular_close:
            return Phase.REGULAR
        if self.extended_open <= moment < self.regular_open:
            return Phase.PRE_MARKET
        if self.regular_close <= moment < self.extended_close:
            return Phase.AFTER_HOURS
        return Phase.CLOSED

    def bounds(self, *, regular_only: bool) -> tuple[dt.datetime, dt.datetime]:
        if regular_only:
            return self.regular_open, self.regular_close
        return self.extended_open, self.extended_close


# NYSE holidays ---------------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Meeus/Jones/Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == SATURDAY:
        return day - dt.timedelta(days=1)
    if day.weekday() == SUNDAY:
        return day + dt.timedelta(days=1)
    return day


@functools.cache
def nyse_holidays(year: int) -> dict[dt.date, str]:
    """The weekdays of `year` on which NYSE is closed, with the holiday's name."""
    holidays: dict[dt.date, str] = {}
    new_year = dt.date(year, 1, 1)
    # Rule 7.2: New Year's Day on a Saturday is not observed on the Friday before.
    if new_year.weekday() != SATURDAY:
        holidays[_observed(new_year)] = "New Year's Day"
    holidays[_nth_weekday(year, 1, 0, 3)] = "Martin Luther King, Jr. Day"
    holidays[_nth_weekday(year, 2, 0, 3)] = "Washington's Birthday"
    holidays[easter_sunday(year) - dt.timedelta(days=2)] = "Good Friday"
    holidays[_last_weekday(year, 5, 0)] = "Memorial Day"
    if year >= 2022:
        holidays[_observed(dt.date(year, 6, 19))] = "Juneteenth National Independence Day"
    holidays[_observed(dt.date(year, 7, 4))] = "Independence Day"
    holidays[_nth_weekday(year, 9, 0, 1)] = "Labor Day"
    holidays[_nth_weekday(year, 11, 3, 4)] = "Thanksgiving Day"
    holidays[_observed(dt.date(year, 12, 25))] = "Christmas Day"
    return holidays


@functools.cache
def nyse_early_closes(year: int) -> dict[dt.date, str]:
    """Days NYSE closes at 13:00 (late trading to 17:00): July 3, the day after Thanksgiving,
    Christmas Eve, each only when it is a weekday that is not itself a holiday."""
    candidates = {
        dt.date(year, 7, 3): "Day before Independence Day",
        _nth_weekday(year, 11, 3, 4) + dt.timedelta(days=1): "Day after Thanksgiving",
        dt.date(year, 12, 24): "Christmas Eve",
    }
    closed = nyse_holidays(year)
    return {
        day: name
        for day, name in candidates.items()
        if day.weekday() < SATURDAY and day not in closed
    }


# Calendars -------------------------------------------------------------------------------------


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NEW_YORK).astimezone(dt.UTC)


class TradingCalendar:
    """A market's sessions by trading day, and the questions the gateway asks of them."""

    name = "calendar"

    def session(self, day: dt.date) -> Session | None:
        """The session of trading day `day` (a New York date), None when closed all day."""
        raise NotImplementedError

    def sessions_around(self, moment: dt.datetime) -> list[Session]:
        """The sessions that may contain `moment`: its New York day and the next (forex days
        begin the evening before)."""
        local_day = moment.astimezone(NEW_YORK).date()
        days = (local_day - dt.timedelta(days=1), local_day, local_day + dt.timedelta(days=1))
        return [found for day in days if (found := self.session(day)) is not None]

    def session_at(self, moment: dt.datetime) -> Session | None:
        """The session whose extended hours contain `moment`."""
        for candidate in self.sessions_around(moment):
            if candidate.extended_open <= moment < candidate.extended_close:
                return candidate
        return None

    def phase(self, moment: dt.datetime) -> Phase:
        found = self.session_at(moment)
        return found.phase(moment) if found is not None else Phase.CLOSED

    def next_session(self, moment: dt.datetime, *, regular_only: bool) -> Session:
        """The first session whose (regular or extended) hours end after `moment`."""
        local_day = moment.astimezone(NEW_YORK).date() - dt.timedelta(days=1)
        for offset in range(SEARCH_DAYS + 1):
            found = self.session(local_day + dt.timedelta(days=offset))
            if found is not None and found.bounds(regular_only=regular_only)[1] > moment:
                return found
        raise ValueError(f"no {self.name} session within {SEARCH_DAYS} days of {moment}")

    def next_open(self, moment: dt.datetime, *, regular_only: bool) -> dt.datetime:
        """`moment` itself when the market is open then, else when it next opens."""
        start = self.next_session(moment, regular_only=regular_only).bounds(
            regular_only=regular_only
        )[0]
        return max(start, moment)

    def sessions_between(self, start: dt.datetime, end: dt.datetime) -> list[Session]:
        """Sessions overlapping [start, end), by extended hours, oldest first."""
        first = start.astimezone(NEW_YORK).date() - dt.timedelta(days=1)
        last = end.astimezone(NEW_YORK).date() + dt.timedelta(days=1)
        found: list[Session] = []
        day = first
        while day <= last:
            candidate = self.session(day)
            if (
                candidate is not None
                and candidate.extended_open < end
                and candidate.extended_close > start
            ):
                found.append(candidate)
            day += dt.timedelta(days=1)
        return found

    def previous_sessions(self, moment: dt.datetime, count: int) -> list[Session]:
        """The last `count` sessions that began at or before `moment`, oldest first."""
        found: list[Session] = []
        day = moment.astimezone(NEW_YORK).date() + dt.timedelta(days=1)
        misses = 0
        while len(found) < count and misses <= SEARCH_DAYS:
            candidate = self.session(day)
            day -= dt.timedelta(days=1)
            if candidate is None or candidate.extended_open > moment:
                misses += 1
                continue
            misses = 0
            found.append(candidate)
        return list(reversed(found))


class UsEquityCalendar(TradingCalendar):
    """NYSE's calendar, which the other US stock exchanges follow."""

    name = "US equities"

    def session(self, day: dt.date) -> Session | None:
        if day.weekday() >= SATURDAY or day in nyse_holidays(day.year):
            return None
        early = day in nyse_early_closes(day.year)
        return Session(
            day=day,
            extended_open=_at(day, 4),
            regular_open=_at(day, 9, 30),
            regular_close=_at(day, 13) if early else _at(day, 16),
            extended_close=_at(day, 17) if early else _at(day, 20),
        )


class ForexCalendar(TradingCalendar):
    """IDEALPRO: Sunday 17:00 to Friday 17:00 New York, one session per weekday."""

    name = "forex"

    def session(self, day: dt.date) -> Session | None:
        if day.weekday() >= SATURDAY:
            return None
        opens = _at(day - dt.timedelta(days=1), 17)
        closes = _at(day, 17)
        return Session(day, opens, opens, closes, closes)


US_EQUITIES = UsEquityCalendar()
FOREX = ForexCalendar()


def calendar_for(*, is_forex: bool) -> TradingCalendar:
    return FOREX if is_forex else US_EQUITIES


# The days contractDetails' tradingHours and liquidHours cover: the current day and five more,
# as a current gateway sends them (ib_async's ContractDetails._parseSessions quotes one:
# '20240721:CLOSED;20240722:0400-20240722:2000;...;20240726:0400-20240726:2000').
SCHEDULE_DAYS = 6


def _schedule_entry(opens: dt.datetime, closes: dt.datetime) -> str:
    start = opens.astimezone(NEW_YORK)
    end = closes.astimezone(NEW_YORK)
    return f"{start:%Y%m%d:%H%M}-{end:%Y%m%d:%H%M}"


def ib_hours(calendar: TradingCalendar, moment: dt.datetime) -> tuple[str, str]:
    """contractDetails' (tradingHours, liquidHours) from `moment`'s New York day on: IB's
    format since TWS 970, "20180323:0400-20180323:2000;20180326:0400-20180326:2000", one
    entry per trading day, a day without a session as "20090508:CLOSED" (IB's ContractDetails,
    https://interactivebrokers.github.io/tws-api/classIBApi_1_1ContractDetails.html). An entry
    runs from its session's open to its close (a forex day opens at 17:00 the evening before);
    liquid hours are the regular session."""
    today = moment.astimezone(NEW_YORK).date()
    trading: list[str] = []
    liquid: list[str] = []
    for day in (today + dt.timedelta(days=offset) for offset in range(SCHEDULE_DAYS)):
        found = calendar.session(day)
        if found is None:
            trading.append(f"{day:%Y%m%d}:CLOSED")
            liquid.append(f"{day:%Y%m%d}:CLOSED")
            continue
        trading.append(_schedule_entry(found.extended_open, found.extended_close))
        liquid.append(_schedule_entry(found.regular_open, found.regular_close))
    return ";".join(trading), ";".join(liquid)


def latest_regular_open(moment: dt.datetime) -> dt.datetime:
    """The regular open of the last US equity session that began at or before `moment`."""
    [session] = US_EQUITIES.previous_sessions(moment, 1)
    if session.regular_open > moment:
        [session] = US_EQUITIES.previous_sessions(session.extended_open - dt.timedelta(hours=1), 1)
    return session.regular_open
