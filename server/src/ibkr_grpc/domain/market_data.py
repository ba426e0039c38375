"""Quotes, contract details and historical bars, as the domain describes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.options import OptionGreeks


class BarSize(StrEnum):
    """Bar widths; the values are IB's barSizeSetting strings."""

    SECONDS_1 = "1 secs"
    SECONDS_5 = "5 secs"
    SECONDS_10 = "10 secs"
    SECONDS_15 = "15 secs"
    SECONDS_30 = "30 secs"
    MINUTES_1 = "1 min"
    MINUTES_2 = "2 mins"
    MINUTES_3 = "3 mins"
    MINUTES_5 = "5 mins"
    MINUTES_10 = "10 mins"
    MINUTES_15 = "15 mins"
    MINUTES_20 = "20 mins"
    MINUTES_30 = "30 mins"
    HOURS_1 = "1 hour"
    HOURS_2 = "2 hours"
    HOURS_3 = "3 hours"
    HOURS_4 = "4 hours"
    HOURS_8 = "8 hours"
    DAYS_1 = "1 day"
    WEEKS_1 = "1 week"
    MONTHS_1 = "1 month"


class BarSource(StrEnum):
    """What bars are built from; the values are IB's whatToShow strings."""

    TRADES = "TRADES"
    MIDPOINT = "MIDPOINT"
    BID = "BID"
    ASK = "ASK"
    BID_ASK = "BID_ASK"
    ADJUSTED_LAST = "ADJUSTED_LAST"


class SpanUnit(StrEnum):
    """History span units; the values are IB's duration letters."""

    SECONDS = "S"
    DAYS = "D"
    WEEKS = "W"
    MONTHS = "M"
    YEARS = "Y"


class MarketDataKind(StrEnum):
    LIVE = "LIVE"
    FROZEN = "FROZEN"
    DELAYED = "DELAYED"
    DELAYED_FROZEN = "DELAYED_FROZEN"


@dataclass(frozen=True, slots=True)
class Quote:
    contract: ContractSpec
    receive_time: datetime
    bid: Decimal | None = None
    bid_size: Decimal | None = None
    ask: Decimal | None = None
    ask_size: Decimal | None = None
    last: Decimal | None = None
    last_size: Decimal | None = None
    volume: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    open: Decimal | None = None
    close: Decimal | None = None
    kind: MarketDataKind = MarketDataKind.LIVE
    exchange_time: datetime | None = None
    # Options only, once IB computed them.
    greeks: OptionGreeks | None = None


@dataclass(frozen=True, slots=True)
class QuoteBatch:
    """Quotes a stream sends in one message, oldest change first."""

    quotes: tuple[Quote, ...]


@dataclass(frozen=True, slots=True)
class ContractMatch:
    contract: ContractSpec
    description: str
    derivative_security_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContractDetails:
    contract: ContractSpec
    long_name: str = ""
    minimum_tick: Decimal | None = None
    minimum_size: Decimal | None = None
    size_increment: Decimal | None = None
    order_types: tuple[str, ...] = ()
    valid_exchanges: tuple[str, ...] = ()
    time_zone: str = ""
    trading_hours: str = ""
    liquid_hours: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    stock_type: str = ""
    market_name: str = ""


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    contract: ContractSpec
    bar_size: BarSize
    span_count: int
    span_unit: SpanUnit
    end_time: datetime | None
    source: BarSource
    regular_trading_hours_only: bool


@dataclass(frozen=True, slots=True)
class Bar:
    start_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None
    average_price: Decimal | None
    trade_count: int


@dataclass(frozen=True, slots=True)
class SubscriptionFailure:
    """A contract of a quote stream that could not be (or is no longer) subscribed."""

    contract: ContractSpec
    reason: str
    message: str
