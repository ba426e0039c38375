"""ModifyOrder: which changes an order's type allows, and the order's terms after them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from ibkr_grpc.domain.enums import OrderType, TimeInForce
from ibkr_grpc.domain.errors import OrderValidationError, ViolationCollector
from ibkr_grpc.domain.orders import Order, OrderTerms

# The price fields each order type has; the others cannot be set by a modification.
_PRICE_FIELDS: dict[OrderType, frozenset[str]] = {
    OrderType.MARKET: frozenset(),
    OrderType.LIMIT: frozenset({"limit_price"}),
    OrderType.STOP: frozenset({"stop_price"}),
    OrderType.STOP_LIMIT: frozenset({"limit_price", "stop_price"}),
    OrderType.TRAILING_STOP: frozenset({"stop_price", "trailing_amount", "trailing_percent"}),
}


@dataclass(frozen=True, slots=True)
class OrderChanges:
    """A ModifyOrder request: None keeps the current value."""

    order_id: str
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    time_in_force: TimeInForce | None = None

    def prices(self) -> dict[str, Decimal]:
        names = ("limit_price", "stop_price", "trailing_amount", "trailing_percent")
        return {name: value for name in names if (value := getattr(self, name)) is not None}

    @property
    def empty(self) -> bool:
        return not self.prices() and self.quantity is None and self.time_in_force is None


def changed_terms(order: Order, changes: OrderChanges) -> OrderTerms:
    """The terms after the changes; OrderValidationError if the order cannot take them."""
    violations = ViolationCollector()
    terms = order.terms
    allowed = _PRICE_FIELDS[terms.order_type]
    prices = changes.prices()
    for name in prices:
        if name not in allowed:
            violations.add(name, f"a {terms.order_type.value} order has no {name}")
    if changes.quantity is not None and changes.quantity < order.filled_quantity:
        violations.add("quantity", f"must not be below the filled quantity {order.filled_quantity}")
    if "trailing_amount" in prices and "trailing_percent" in prices:
        violations.add("trailing_percent", "give trailing_amount or trailing_percent, not both")
    violations.raise_if_any(OrderValidationError)
    updated = replace(
        terms,
        quantity=changes.quantity if changes.quantity is not None else terms.quantity,
        time_in_force=changes.time_in_force or terms.time_in_force,
        limit_price=prices.get("limit_price", terms.limit_price),
        stop_price=prices.get("stop_price", terms.stop_price),
        trailing_amount=prices.get("trailing_amount", terms.trailing_amount),
        trailing_percent=prices.get("trailing_percent", terms.trailing_percent),
    )
    if "trailing_amount" in prices:
        updated = replace(updated, trailing_percent=None)
    if "trailing_percent" in prices:
        updated = replace(updated, trailing_amount=None)
    return updated
