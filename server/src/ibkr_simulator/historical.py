"""Historical bars that end at the live price, and keepUpToDate updates of the current bar.

The simulated market trades around the clock (useRTH is accepted and ignored). Bars are
aligned to their size in UTC and generated backwards from the current price with a generator
seeded by (seed, conId, bar size, last bar start), so the same request at the same moment
always returns the same bars.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.market_messages import Bar
from ibkr_simulator.prices import Quote, round_to_tick

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
    epoch = int(moment.timestamp())
    alignment = min(bar_seconds, DAY)
    return epoch - epoch % alignment


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
    duration_seconds: int
    bar_seconds: int
    what_to_show: str
    format_date: int


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
    last_start = bar_start(request.end, size)
    first_start = bar_start(request.end - dt.timedelta(seconds=request.duration_seconds), size)
    count = max(1, (last_start - first_start) // size + (1 if size < DAY else 0))
    if count > maximum_bars:
        raise HistoricalRequestError("Time length exceed max.")
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
    for index, close in enumerate(closes):
        start = last_start - (count - 1 - index) * size
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

    def advance(
        self, moment: dt.datetime, bar_seconds: int, price: float, traded_size: float
    ) -> None:
        start = bar_start(moment, bar_seconds)
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
