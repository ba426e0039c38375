"""Pre-trade checks of a combination (multi-leg) order as a whole, with the per-order limits.

A combination is risk-checked by what it can do, not by its net price: its largest loss at
expiry (for options of one underlying and expiry: verticals, iron condors, butterflies,
computed from the strikes, the ratios and the net limit price) and each leg's quantity and
notional must be within the per-order limits, each leg's symbol within the allow and deny
lists, and every short option leg must be covered, by a long leg of the same right in the
combination or by a held long position that the leg closes. A naked short option can lose
without bound; a combination order exists to trade defined risk, so one is never passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from ibkr_grpc.domain.combinations import (
    maximum_loss,
    multiplier_of,
    uncovered_short_options,
)
from ibkr_grpc.domain.enums import OrderType
from ibkr_grpc.domain.errors import RiskRejectedError
from ibkr_grpc.domain.orders import ComboLeg, Order
from ibkr_grpc.domain.portfolio import Position
from ibkr_grpc.domain.risk import RiskLimits

Refuse = Callable[..., RiskRejectedError]


def check_combination(
    limits: RiskLimits, order: Order, positions: Sequence[Position], refuse: Refuse
) -> None:
    """Raise the first rule the combination breaks (`refuse` builds the error)."""
    legs = order.combo_legs
    quantity = order.terms.quantity
    for leg in legs:
        _check_symbol(limits, leg, refuse)
    held = {
        position.contract.con_id: position.quantity
        for position in positions
        if position.account == order.account
    }
    uncovered = uncovered_short_options(legs, order.terms.side, quantity, held)
    if uncovered:
        names = ", ".join(leg.contract.display_name for leg in uncovered)
        raise refuse(
            "POSITION_LIMIT_EXCEEDED",
            "naked_short_options",
            f"short option legs not covered by a long leg or a held position: {names}",
            limit="covered",
            requested="naked",
        )
    _check_loss(limits, order, refuse)
    for leg in legs:
        _check_leg_size(limits, leg, quantity, refuse)


def _check_loss(limits: RiskLimits, order: Order, refuse: Refuse) -> None:
    """The combination's largest loss at expiry, premium included, against the per-order
    notional limit (what the order puts at risk)."""
    if limits.max_order_notional is None:
        return
    legs, quantity = order.combo_legs, order.terms.quantity
    # A market order's premium is not known in advance: its loss is that of the payoff alone.
    net = order.terms.limit_price if order.terms.order_type is OrderType.LIMIT else Decimal(0)
    loss = maximum_loss(legs, order.terms.side, quantity, net)
    if loss is None:
        raise refuse(
            "ORDER_SIZE_LIMIT_EXCEEDED",
            "max_order_notional",
            "the combination's loss is not bounded (not options of one underlying and expiry)",
            limit=limits.max_order_notional,
            requested="unbounded",
        )
    if loss > limits.max_order_notional:
        raise refuse(
            "ORDER_SIZE_LIMIT_EXCEEDED",
            "max_order_notional",
            f"the combination can lose {loss}, past the limit {limits.max_order_notional}",
            limit=limits.max_order_notional,
            requested=loss,
        )


def _check_symbol(limits: RiskLimits, leg: ComboLeg, refuse: Refuse) -> None:
    symbol = leg.contract.symbol.upper()
    listed = symbol in limits.denied_symbols
    unlisted = bool(limits.allowed_symbols) and symbol not in limits.allowed_symbols
    if listed or unlisted:
        raise refuse(
            "SYMBOL_NOT_ALLOWED",
            "denied_symbols" if listed else "allowed_symbols",
            f"leg {leg.contract.display_name}: {symbol} is "
            + ("on the deny list" if listed else "not on the allow list"),
            limit="allow/deny lists",
            requested=symbol,
        )


def _check_leg_size(limits: RiskLimits, leg: ComboLeg, quantity: Decimal, refuse: Refuse) -> None:
    """A leg trades quantity x ratio contracts; an option leg's notional is that times its
    multiplier times its strike (the underlying's value it controls, at the strike)."""
    leg_quantity = quantity * leg.ratio
    name = leg.contract.display_name
    if limits.max_order_quantity is not None and leg_quantity > limits.max_order_quantity:
        raise refuse(
            "ORDER_SIZE_LIMIT_EXCEEDED",
            "max_order_quantity",
            f"leg {name} trades {leg_quantity}, past the limit {limits.max_order_quantity}",
            limit=limits.max_order_quantity,
            requested=leg_quantity,
        )
    if limits.max_order_notional is None:
        return
    strike = leg.contract.strike
    if strike is None:
        raise refuse(
            "ORDER_SIZE_LIMIT_EXCEEDED",
            "max_order_notional",
            f"no price to check leg {name}'s notional against",
            limit=limits.max_order_notional,
            requested="unknown",
        )
    notional = leg_quantity * multiplier_of(leg.contract) * strike
    if notional > limits.max_order_notional:
        raise refuse(
            "ORDER_SIZE_LIMIT_EXCEEDED",
            "max_order_notional",
            f"leg {name}'s notional {notional} is past the limit {limits.max_order_notional}",
            limit=limits.max_order_notional,
            requested=notional,
        )
