"""Order rules that do not depend on the book: term validation and the commission schedule."""

from __future__ import annotations

from ibkr_simulator import codes
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
from ibkr_simulator.outgoing import StatusReport

# IB's texts for the refusals that have their own code (IB's message-code table,
# https://interactivebrokers.github.io/tws-api/message_codes.html).
OFF_TICK_PRICE_TEXT = "The price does not conform to the minimum price variation for this contract."
ZERO_SIZE_TEXT = "The order size cannot be zero."


class OrderRejectionError(Exception):
    """A refused order: error 201 "Order rejected - reason:" with this reason, or another code.

    `status` is the orderStatus that follows the error when IB's risk checks refuse an order
    it has received (margin): Inactive, "received by the system but no longer active because
    it was rejected or canceled" (IB's EWrapper.orderStatus documentation).
    """

    def __init__(
        self,
        reason: str,
        code: int = codes.ORDER_REJECTED,
        *,
        status: StatusReport | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status

    @property
    def message(self) -> str:
        if self.code == codes.ORDER_REJECTED:
            return "Order rejected - reason:" + self.reason
        return self.reason


def commission_for(
    policy: FillPolicy, contract: ContractSpec, quantity: float, price: float
) -> float:
    """IB-like tiered commission: per share with a minimum and a cap; FX on notional; options
    and futures per contract."""
    notional = quantity * price
    if contract.is_option:
        per_contract = quantity * policy.option_commission_per_contract
        return round(max(policy.option_minimum_commission, per_contract), 4)
    if contract.is_future:
        return round(quantity * policy.future_commission_per_contract, 4)
    if contract.is_forex:
        return round(max(policy.fx_minimum_commission, notional * policy.fx_commission_fraction), 4)
    commission = max(policy.minimum_commission, quantity * policy.commission_per_share)
    return round(min(commission, notional * policy.maximum_commission_fraction), 4)


def validate_terms(request: OrderRequest, contract: ContractSpec) -> None:
    if request.action not in {"BUY", "SELL"}:
        raise OrderRejectionError(f"Invalid action {request.action!r}")
    if request.total_quantity == 0:
        raise OrderRejectionError(ZERO_SIZE_TEXT, codes.ORDER_SIZE_ZERO)
    if request.total_quantity < 0:
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
        raise OrderRejectionError(OFF_TICK_PRICE_TEXT, codes.PRICE_OFF_TICK)
