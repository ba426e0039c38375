"""Orders, fills and the order-event log entries of the domain."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import (
    BracketRole,
    OrderEventType,
    OrderOrigin,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)


@dataclass(frozen=True, slots=True)
class ArrivalQuote:
    """The market when an order was placed, to measure its fills against."""

    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    time: datetime

    @property
    def reference_price(self) -> Decimal | None:
        """The midpoint when both sides are known, else the last price."""
        if self.bid is not None and self.ask is not None and self.bid > 0 and self.ask > 0:
            return (self.bid + self.ask) / 2
        return self.last


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What an order asks for: the part a caller chooses and may later modify."""

    side: Side
    quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    outside_regular_hours: bool = False


@dataclass(frozen=True, slots=True)
class BracketLegs:
    """The optional exit legs of a bracket order."""

    take_profit_limit_price: Decimal | None = None
    stop_loss_stop_price: Decimal | None = None
    stop_loss_limit_price: Decimal | None = None

    @property
    def any(self) -> bool:
        return self.take_profit_limit_price is not None or self.stop_loss_stop_price is not None


@dataclass(frozen=True, slots=True)
class ComboLeg:
    """One leg of a combination order: its instrument, its side when the combination is
    bought (a sold combination does every leg the other way), and how many per combination."""

    contract: ContractSpec
    side: Side
    ratio: int = 1


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A validated PlaceOrder request, before it becomes one or more orders."""

    account: str
    contract: ContractSpec
    terms: OrderTerms
    legs: BracketLegs
    client_order_id: str
    validate_only: bool = False
    # A combination (multi-leg) order: its legs; `contract` is then unused until the server
    # names the combination after them.
    combo_legs: tuple[ComboLeg, ...] = ()


@dataclass(frozen=True, slots=True)
class Order:
    """An order's full state as the service stores it."""

    order_id: str
    client_order_id: str
    account: str
    contract: ContractSpec
    terms: OrderTerms
    status: OrderStatus
    create_time: datetime
    update_time: datetime
    status_reason: str = ""
    broker_order_id: int = 0
    perm_id: int = 0
    filled_quantity: Decimal = Decimal(0)
    average_fill_price: Decimal | None = None
    parent_order_id: str = ""
    child_order_ids: tuple[str, ...] = ()
    bracket_role: BracketRole = BracketRole.NONE
    oca_group: str = ""
    arrival_quote: ArrivalQuote | None = None
    commission: Decimal | None = None
    commission_currency: str = ""
    placed_by: str = ""
    origin: OrderOrigin = OrderOrigin.THIS_SERVER
    # The API client id that placed the order at IB (0 for manual orders).
    broker_client_id: int = 0
    # A combination order's legs; `contract` names the combination (combinations.py).
    combo_legs: tuple[ComboLeg, ...] = ()

    @property
    def is_combination(self) -> bool:
        return bool(self.combo_legs)

    @property
    def remaining_quantity(self) -> Decimal:
        if self.status.is_final:
            return Decimal(0)
        return max(self.terms.quantity - self.filled_quantity, Decimal(0))

    def with_changes(self, **changes: object) -> Order:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution at the broker."""

    execution_id: str
    account: str
    contract: ContractSpec
    side: Side
    quantity: Decimal
    price: Decimal
    execution_time: datetime
    order_id: str = ""
    broker_order_id: int = 0
    perm_id: int = 0
    cumulative_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    exchange: str = ""
    commission: Decimal | None = None
    commission_currency: str = ""
    realized_pnl: Decimal | None = None
    reference_price: Decimal | None = None

    @property
    def slippage(self) -> Decimal | None:
        """Per-unit slippage against the arrival price; positive is worse for the trader."""
        if self.reference_price is None:
            return None
        if self.side is Side.BUY:
            return self.price - self.reference_price
        return self.reference_price - self.price


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One entry of the order-event log; `sequence` is global and strictly increasing."""

    sequence: int
    event_type: OrderEventType
    event_time: datetime
    order: Order
    fill: Fill | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OrderPreview:
    """What a validate_only order would do; amounts in `currency`, None when IB gave none."""

    notional: Decimal | None
    currency: str
    initial_margin_change: Decimal | None = None
    maintenance_margin_change: Decimal | None = None
    equity_with_loan_after: Decimal | None = None
    commission_minimum: Decimal | None = None
    commission_maximum: Decimal | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[Order] = field(default_factory=list)
    next_page_token: str = ""


@dataclass(frozen=True, slots=True)
class FillPage:
    fills: list[Fill] = field(default_factory=list)
    next_page_token: str = ""
