"""Live market data beyond quotes, as the domain describes it: the order book (market depth),
tick-by-tick data and live bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError
from ibkr_grpc.domain.market_data import Bar, BarSize, BarSource, SpanUnit

# The exchange name that asks for IB's aggregated book across exchanges (smart depth).
SMART = "SMART"


@dataclass(frozen=True, slots=True)
class DepthVenue:
    """An exchange's share of a price level of the aggregated book."""

    venue: str
    size: Decimal


@dataclass(frozen=True, slots=True)
class DepthLevel:
    price: Decimal
    # Zero in a change: the level is gone.
    size: Decimal
    venues: tuple[DepthVenue, ...] = ()


@dataclass(frozen=True, slots=True)
class DepthBook:
    """Both sides of a book, best level first."""

    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]
    receive_time: datetime

    def top(self, rows: int) -> DepthBook:
        return DepthBook(self.bids[:rows], self.asks[:rows], self.receive_time)


@dataclass(frozen=True, slots=True)
class DepthRequest:
    """A qualified contract's book: `venue` is SMART (aggregated) or one exchange."""

    contract: ContractSpec
    venue: str


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """The first item of a depth stream: the whole book (at most the stream's rows a side)."""

    contract: ContractSpec
    book: DepthBook


@dataclass(frozen=True, slots=True)
class DepthChanges:
    """The levels that changed, with their newest state (size zero: removed)."""

    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]
    receive_time: datetime


class TickType(StrEnum):
    """IB's tick-by-tick data types; the values are IB's tickType strings."""

    LAST = "Last"
    ALL_LAST = "AllLast"
    BID_ASK = "BidAsk"
    MIDPOINT = "MidPoint"

    @property
    def is_trade(self) -> bool:
        return self in {TickType.LAST, TickType.ALL_LAST}


@dataclass(frozen=True, slots=True)
class TradeTick:
    time: datetime
    price: Decimal
    size: Decimal
    exchange: str = ""
    special_conditions: str = ""
    past_limit: bool = False
    unreported: bool = False


@dataclass(frozen=True, slots=True)
class BidAskTick:
    time: datetime
    bid_price: Decimal | None
    bid_size: Decimal | None
    ask_price: Decimal | None
    ask_size: Decimal | None


@dataclass(frozen=True, slots=True)
class MidpointTick:
    time: datetime
    midpoint: Decimal


Tick = TradeTick | BidAskTick | MidpointTick


@dataclass(frozen=True, slots=True)
class TicksDropped:
    """Trades a slow reader's stream dropped (the oldest first) to stay within its buffer."""

    count: int


@dataclass(frozen=True, slots=True)
class LiveBarsRequest:
    """Live bars of a (qualified) contract: the history over the span, then the updates."""

    contract: ContractSpec
    bar_size: BarSize
    span_count: int
    span_unit: SpanUnit
    source: BarSource
    regular_trading_hours_only: bool


@dataclass(frozen=True, slots=True)
class BarHistory:
    """Bars of the history, oldest first (one of several for a long history)."""

    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    """IB ended (or refused again) the subscription a stream reads: the stream ends with
    `error`."""

    error: ServiceError
