"""What an order command checks before it reaches IB, and how a failure to reach IB is said:
ownership, modifiability, and the retryable IB_CONNECTION_FAILED."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from ibkr_grpc.domain.enums import OrderStatus
from ibkr_grpc.domain.errors import (
    AccountNotFoundError,
    FieldViolation,
    GatewayUnavailableError,
    OrderNotModifiableError,
    PermissionDeniedError,
    ValidationError,
)
from ibkr_grpc.domain.identity import Caller
from ibkr_grpc.domain.orders import Order, OrderTerms
from ibkr_grpc.services.ports import BrokerPort

T = TypeVar("T")
RETRY_AFTER = timedelta(seconds=2)


def unavailable(error: ConnectionError) -> GatewayUnavailableError:
    return GatewayUnavailableError(
        f"the connection to IB Gateway failed before the request was written: {error}",
        retry_after=RETRY_AFTER,
    )


async def reaching_broker(request: Coroutine[Any, Any, T]) -> T:
    """A broker request whose connection error is the retryable IB_CONNECTION_FAILED."""
    try:
        return await request
    except ConnectionError as error:
        raise unavailable(error) from error


def describe_terms(terms: OrderTerms) -> str:
    prices = {
        "limit_price": terms.limit_price,
        "stop_price": terms.stop_price,
        "trailing_amount": terms.trailing_amount,
        "trailing_percent": terms.trailing_percent,
    }
    parts = [f"quantity {terms.quantity}", f"time_in_force {terms.time_in_force.value}"]
    parts += [f"{name} {value}" for name, value in prices.items() if value is not None]
    return ", ".join(parts)


def require_owner(order: Order, caller: Caller, verb: str) -> None:
    if not caller.may_change_order(account=order.account, placed_by=order.placed_by):
        raise PermissionDeniedError(
            f"{caller.subject} may not {verb} order {order.order_id}: traders change only their own orders",
            metadata={"order_id": order.order_id},
        )


def require_modifiable(order: Order) -> None:
    if order.status.is_final or order.status is OrderStatus.PENDING_CANCEL:
        raise not_modifiable(order, "modified")


def not_modifiable(order: Order, verb: str) -> OrderNotModifiableError:
    return OrderNotModifiableError(
        f"order {order.order_id} is {order.status.value} and cannot be {verb}",
        metadata={"order_id": order.order_id, "status": order.status.value},
    )


def require_ready(broker: BrokerPort) -> None:
    if not broker.is_ready():
        state = broker.state().state.value
        raise GatewayUnavailableError(
            f"the IB Gateway session is {state}, not READY",
            metadata={"state": state},
            retry_after=RETRY_AFTER,
        )


def resolve_account(broker: BrokerPort, account: str) -> str:
    """The account an order names, or the gateway's only account when it names none."""
    accounts = broker.managed_accounts()
    if account:
        if account not in accounts:
            raise AccountNotFoundError(
                f"account {account!r} is not managed by this gateway",
                metadata={"account": account},
            )
        return account
    if len(accounts) == 1:
        return accounts[0]
    raise ValidationError(
        [FieldViolation("account", "is required: the gateway manages several accounts")]
    )
