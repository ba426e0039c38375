"""Order rules that do not depend on the book: term validation and the commission schedule."""

from __future__ import annotations

from ibkr_simulator.config import FillPolicy
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.order_model import (
    LIMIT,
    STOP,
    STOP_LIMIT,
    SUPPORTED_ORDER_TYPES,
    SUPPORTED_TIME_IN_FORCE,
    TRAIL,
    OrderRequest,
)


class OrderRejectionError(Exception):
    """A validation failure, carried to the client as error 201 with this reason."""


def commission_for(
    policy: FillPolicy, contract: ContractSpec, quantity: float, price: float
) -> float:
    """IB-like tiered commission: per share with a minimum and a cap; FX on notional."""
    notional = quantity * price
    if contract.is_forex:
        return round(max(policy.fx_minimum_commission, notional * policy.fx_commission_fraction), 4)
    commission = max(policy.minimum_commission, quantity * policy.commission_per_share)
    return round(min(commission, notional * policy.maximum_commission_fraction), 4)


def validate_terms(request: OrderRequest, contract: ContractSpec) -> None:
    if request.action not in {"BUY", "SELL"}:
        raise OrderRejectionError(f"Invalid action {request.action!r}")
    if request.total_quantity <= 0:
        raise OrderRejectionError("The order quantity must be greater than zero")
    if not contract.is_forex and not float(request.total_quantity).is_integer():
        raise OrderRejectionError("Fractional-sized orders cannot be placed via the API")
    if request.order_type not in SUPPORTED_ORDER_TYPES:
        raise OrderRejectionError(f"Order type {request.order_type!r} is not supported")
    if request.time_in_force not in SUPPORTED_TIME_IN_FORCE:
        raise OrderRejectionError(f"Time in force {request.time_in_force!r} is not supported")
    if request.order_type in {LIMIT, STOP_LIMIT}:
        check_price("limit", request.limit_price, contract)
    if request.order_type in {STOP, STOP_LIMIT}:
        check_price("stop", request.aux_price, contract)
    if request.order_type == TRAIL and not (
        (request.aux_price or 0) > 0 or (request.trailing_percent or 0) > 0
    ):
        raise OrderRejectionError("A trailing stop needs a trailing amount or a trailing percent")


def check_price(name: str, price: float | None, contract: ContractSpec) -> None:
    if price is None or price <= 0:
        raise OrderRejectionError(f"Invalid {name} price")
    ticks = price / contract.min_tick
    if abs(ticks - round(ticks)) > 1e-6:
        raise OrderRejectionError(
            f"The {name} price {price} does not conform to the minimum price variation "
            f"{contract.min_tick}"
        )
