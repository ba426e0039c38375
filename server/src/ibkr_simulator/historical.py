"""Historical bars that end at the live price, and keepUpToDate updates of the current bar.

Bars exist only when the instrument's market is open (trading_calendar): with useRTH=1 in
regular hours, with useRTH=0 also in the pre-market and after-hours sessions, never on closed
hours, weekends or holidays. Intraday bars are aligned to their size from New York midnight
and clipped to the session, so the first RTH hour bar starts at 09:30 and the next at 10:00,
as IB's do. Daily bars are one per trading day; weekly and monthly ones are dated by the first
trading day of their week or month. A duration in days ("N D") counts trading sessions back
from the end; other durations are spans of clock time. Bars are generated backwards from the
current price with a generator seeded by (seed, conId, bar size, last bar start), so the same
request at the same moment always returns the same bars.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.market_messages import Bar
from ibkr_simulator.prices import Quote, round_to_tick
from ibkr_simulator.trading_calendar import NEW_YORK, Session, TradingCalendar

BAR_SIZES: dict[str, int] = {
    "1 secs": 1,
    "5 secs": 5,
    "10 secs": 10,
    "15 secs": 15,
    "30 secs": 30,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": 86400,
    "1 week": 7 * 86400,
    "1 month": 30 * 86400,
}
DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"})
SECONDS_PER_YEAR = 365 * 86400
DAY = 86400


class HistoricalRequestError(Exception):
    """A request IB would refuse with error 162; the message is IB's text after the prefix."""


def parse_bar_size(text: str) -> int:
    normalized = " ".join(text.lower().split())
    if normalized.endswith(" sec"):
        normalized += "s"
    if normalized in {"1 mins", "1 hours", "1 days"}:
        normalized = normalized[:-1]
    seconds = BAR_SIZES.get(normalized)
    if seconds is None:
        raise HistoricalRequestError(f"Invalid bar size {text!r}")
    return seconds


def parse_duration(text: str) -> int:
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].upper() not in DURATION_UNITS:
        raise HistoricalRequestError(f"Invalid duration {text!r}")
    return int(parts[0]) * DURATION_UNITS[parts[1].upper()]


def bar_start(moment: dt.datetime, bar_seconds: int) -> int:
    """The start of a bar aligned to its size in UTC (real-time bars: every five seconds)."""
    epoch = int(moment.timestamp())
    return epoch - epoch % min(bar_seconds, DAY)


def trading_days(text: str) -> int | None:
    """N for a duration of "N D" (counted in trading sessions), None for other units."""
    parts = text.split()
    if len(parts) == 2 and parts[0].isdigit() and parts[1].upper() == "D":
        return int(parts[0])
    return None


def day_key(day: dt.date) -> int:
    """The epoch that stands for a trading day in daily and longer bars: noon in New York, whose
    UTC date is the day itself."""
    return int(dt.datetime.combine(day, dt.time(12), NEW_YORK).timestamp())


def _grid(opens: dt.datetime, closes: dt.datetime, bar_seconds: int) -> list[int]:
    """Bar starts inside [opens, closes): the open, then every multiple of the bar size from
    New York midnight."""
    midnight = dt.datetime.combine(opens.astimezone(NEW_YORK).date(), dt.time(0), NEW_YORK)
    origin, first, last = int(midnight.timestamp()), int(opens.timestamp()), closes.timestamp()
    following = origin + ((first - origin) // bar_seconds + 1) * bar_seconds
    return [first, *range(following, math.ceil(last), bar_seconds)]


def current_bar_start(
    calendar: TradingCalendar, moment: dt.datetime, bar_seconds: int, *, regular_only: bool
) -> int | None:
    """The start of the bar `moment` falls in, None when the market is closed then."""
    session = calendar.session_at(moment)
    if session is None:
        return None
    opens, closes = session.bounds(regular_only=regular_only)
    if not opens <= moment < closes:
        return None
    if bar_seconds >= DAY:
        return day_key(session.day)
    epoch = moment.timestamp()
    return max(start for start in _grid(opens, closes, bar_seconds) if start <= epoch)


def _sessions(
    calendar: TradingCalendar, end: dt.datetime, duration: str, *, regular_only: bool
) -> tuple[dt.datetime, list[Session]]:
    days = trading_days(duration)
    if days is None:
        start = end - dt.timedelta(seconds=parse_duration(duration))
        return start, calendar.sessions_between(start, end)
    begun = [
        session
        for session in calendar.previous_sessions(end, days + 1)
        if session.bounds(regular_only=regular_only)[0] <= end
    ][-days:]
    start = begun[0].bounds(regular_only=regular_only)[0] if begun else end
    return start, begun


def bar_starts(
    calendar: TradingCalendar,
    end: dt.datetime,
    duration: str,
    bar_seconds: int,
    *,
    regular_only: bool,
) -> list[int]:
    """The starts of the bars a request covers, oldest first, only in market hours."""
    start, sessions = _sessions(calendar, end, duration, regular_only=regular_only)
    if bar_seconds >= DAY:
        days = [
            session.day
            for session in sessions
            if session.bounds(regular_only=regular_only)[0] <= end
            and session.bounds(regular_only=regular_only)[1] > start
        ]
        return [day_key(day) for day in _first_days(days, bar_seconds)]
    end_epoch, start_epoch = end.timestamp(), start.timestamp()
    return [
        bar
        for session in sessions
        for bar in _grid(*session.bounds(regular_only=regular_only), bar_seconds)
        if start_epoch < bar + bar_seconds and bar <= end_epoch
    ]


def _first_days(days: list[dt.date], bar_seconds: int) -> list[dt.date]:
    """Trading days that begin a bar: every day, or the first of each week or month."""
    if bar_seconds == DAY:
        return days
    firsts: dict[tuple[int, int], dt.date] = {}
    for day in days:
        week = day.isocalendar()
        key = (week.year, week.week) if bar_seconds == 7 * DAY else (day.year, day.month)
        firsts.setdefault(key, day)
    return list(firsts.values())


def format_bar_date(start_epoch: int, bar_seconds: int, format_date: int) -> str:
    moment = dt.datetime.fromtimestamp(start_epoch, dt.UTC)
    if bar_seconds >= DAY:
        return moment.strftime("%Y%m%d")
    if format_date == 2:
        return str(start_epoch)
    return moment.strftime("%Y%m%d %H:%M:%S UTC")


def reference_price(quote: Quote, what_to_show: str) -> float:
    if what_to_show == "BID":
        return quote.bid
    if what_to_show == "ASK":
        return quote.ask
    if what_to_show in {"TRADES", "ADJUSTED_LAST"}:
        return quote.last
    return quote.midpoint


@dataclass(frozen=True)
class BarRequest:
    """A parsed reqHistoricalData."""

    contract: ContractSpec
    end: dt.datetime
    duration: str
    bar_seconds: int
    what_to_show: str
    format_date: int
    regular_only: bool
    calendar: TradingCalendar


def generate_bars(request: BarRequest, quote: Quote, seed: int, maximum_bars: int) -> list[Bar]:
    """Bars covering `duration` up to `end`, the last one closing at the current price."""
    contract = request.contract
    if request.what_to_show not in WHAT_TO_SHOW:
        raise HistoricalRequestError(f"No data of type {request.what_to_show} is available")
    if contract.is_forex and request.what_to_show in {"TRADES", "ADJUSTED_LAST"}:
        raise HistoricalRequestError(
            f"No data of type {request.what_to_show} is available for the exchange IDEALPRO"
        )
    size = request.bar_seconds
    # IB's limit is on the span asked for, whatever part of it the market was open.
    if parse_duration(request.duration) // size > maximum_bars:
        raise HistoricalRequestError("Time length exceed max.")
    starts = bar_starts(
        request.calendar, request.end, request.duration, size, regular_only=request.regular_only
    )
    if not starts:
        raise HistoricalRequestError(
            f"HMDS query returned no data: {contract.symbol}@{contract.exchange} "
            f"{request.what_to_show.title()}"
        )
    count, last_start = len(starts), starts[-1]
    generator = random.Random(f"{seed}:{contract.con_id}:{size}:{last_start}")  # noqa: S311  simulation
    sigma = contract.annual_volatility * math.sqrt(size / SECONDS_PER_YEAR)
    tick = contract.min_tick
    closes = [reference_price(quote, request.what_to_show)]
    for _ in range(count - 1):
        closes.append(max(tick, closes[-1] / math.exp(generator.gauss(0.0, sigma))))
    closes.reverse()
    trades = request.what_to_show in {"TRADES", "ADJUSTED_LAST"}
    bars: list[Bar] = []
    previous_close = closes[0] * math.exp(generator.gauss(0.0, sigma / 2))
    for start, close in zip(starts, closes, strict=True):
        open_price = round_to_tick(previous_close, tick)
        close_price = round_to_tick(close, tick)
        wiggle = abs(generator.gauss(0.0, sigma / 2))
        high = round_to_tick(max(open_price, close_price) * (1 + wiggle), tick)
        low = round_to_tick(max(tick, min(open_price, close_price) * (1 - wiggle)), tick)
        volume = float(generator.randint(1, 50) * 100 * max(1, size // 60)) if trades else -1.0
        count_in_bar = generator.randint(1, 400) if trades else -1
        bars.append(
            Bar(
                date=format_bar_date(start, size, request.format_date),
                open=open_price,
                high=high,
                low=low,
                close=close_price,
                volume=volume,
                # IB has no average price for quote-based bars and reports -1.
                average=round((open_price + high + low + close_price) / 4, 6) if trades else -1.0,
                count=count_in_bar,
            )
        )
        previous_close = close
    return bars


@dataclass
class LiveBar:
    """The bar a keepUpToDate request keeps updating."""

    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    count: int

    @classmethod
    def from_bar(cls, bar: Bar, start: int) -> LiveBar:
        return cls(
            start, bar.open, bar.high, bar.low, bar.close, max(0.0, bar.volume), max(0, bar.count)
        )

    def advance(self, start: int, price: float, traded_size: float) -> None:
        """A new price at a moment in the bar starting at `start` (a new bar when later)."""
        if start > self.start:
            self.start = start
            self.open = self.high = self.low = self.close = price
            self.volume = 0.0
            self.count = 0
        self.close = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        if traded_size:
            self.volume += traded_size
            self.count += 1

    def to_bar(self, bar_seconds: int, format_date: int, *, trades: bool) -> Bar:
        return Bar(
            date=format_bar_date(self.start, bar_seconds, format_date),
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume if trades else -1.0,
            average=round((self.open + self.high + self.low + self.close) / 4, 6)
            if trades
            else -1.0,
            count=self.count if trades else -1,
        )
