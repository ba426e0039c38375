"""Pre-trade risk limits and the trading halt."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """None (or empty) means no limit."""

    allowed_symbols: frozenset[str] = field(default_factory=frozenset)
    denied_symbols: frozenset[str] = field(default_factory=frozenset)
    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position_quantity: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_open_orders: int | None = None
    daily_loss_limit: Decimal | None = None
    max_orders_per_minute: int | None = None
    price_collar_percent: Decimal | None = None
    market_orders_allowed: bool = True
    outside_regular_hours_allowed: bool = True
    max_rejections: int | None = None
    rejection_window: timedelta = timedelta(minutes=5)
    max_disconnects: int | None = None
    disconnect_window: timedelta = timedelta(minutes=10)
    # Option contracts an account may be short without cover (services.naked_options).
    max_naked_short_options: int | None = None
    # Delta-adjusted units of one underlying an account may be exposed to, either way
    # (services.exposure.underlying_delta_reach).
    max_underlying_delta: Decimal | None = None


# The limits by kind, for the layers that read and write them field by field.
DECIMAL_LIMITS = (
    "max_order_quantity",
    "max_order_notional",
    "max_position_quantity",
    "max_gross_exposure",
    "daily_loss_limit",
    "price_collar_percent",
    "max_underlying_delta",
)
COUNT_LIMITS = (
    "max_open_orders",
    "max_orders_per_minute",
    "max_rejections",
    "max_disconnects",
    "max_naked_short_options",
)
# Counts for which 0 means something (none at all) rather than a typo.
COUNTS_FROM_ZERO = frozenset({"max_naked_short_options"})
SWITCHES = ("market_orders_allowed", "outside_regular_hours_allowed")
WINDOWS = ("rejection_window", "disconnect_window")

# Bounds on the limits themselves: a typo must not set a limit that means nothing (a window of
# a microsecond) or everything (a collar of 500 %). None (no limit) is always allowed.
COUNT_BOUNDS = (1, 1_000_000)
WINDOW_BOUNDS = (timedelta(seconds=1), timedelta(days=7))
MAX_COLLAR_PERCENT = Decimal(100)


def limit_violations(limits: RiskLimits) -> list[tuple[str, str]]:
    """(field name, what is wrong) for every limit outside its bounds."""
    problems: list[tuple[str, str]] = []
    for name in DECIMAL_LIMITS:
        value = getattr(limits, name)
        if value is not None and value <= 0:
            problems.append((name, "must be greater than zero"))
    collar = limits.price_collar_percent
    if collar is not None and collar > MAX_COLLAR_PERCENT:
        problems.append(("price_collar_percent", f"must be at most {MAX_COLLAR_PERCENT}"))
    for name in COUNT_LIMITS:
        count = getattr(limits, name)
        low, high = COUNT_BOUNDS
        if name in COUNTS_FROM_ZERO:
            low = 0
        if count is not None and not low <= count <= high:
            problems.append((name, f"must be from {low} to {high:,}"))
    shortest, longest = WINDOW_BOUNDS
    problems.extend(
        (name, "must be from 1 s to 7 days")
        for name in WINDOWS
        if not shortest <= getattr(limits, name) <= longest
    )
    problems.extend(
        (name, "must not hold an empty symbol")
        for name in ("allowed_symbols", "denied_symbols")
        if any(not symbol.strip() for symbol in getattr(limits, name))
    )
    return problems


class HaltCause(StrEnum):
    MANUAL = "MANUAL"
    DAILY_LOSS = "DAILY_LOSS"
    REJECTIONS = "REJECTIONS"
    GATEWAY_FLAPPING = "GATEWAY_FLAPPING"


@dataclass(frozen=True, slots=True)
class TradingState:
    halted: bool
    since: datetime
    cause: HaltCause | None = None
    halted_by: str = ""
    reason: str = ""
    # The account this state is for; "" for the state of every account.
    account: str = ""
