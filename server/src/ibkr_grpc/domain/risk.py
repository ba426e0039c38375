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


# The limits by kind, for the layers that read and write them field by field.
DECIMAL_LIMITS = (
    "max_order_quantity",
    "max_order_notional",
    "max_position_quantity",
    "max_gross_exposure",
    "daily_loss_limit",
    "price_collar_percent",
)
COUNT_LIMITS = ("max_open_orders", "max_orders_per_minute", "max_rejections", "max_disconnects")
SWITCHES = ("market_orders_allowed", "outside_regular_hours_allowed")
WINDOWS = ("rejection_window", "disconnect_window")


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
