"""The margin check of a combination (multi-leg) order, before it is sent (issue #17).

IB's what-if (an order sent with whatIf set, answered with an openOrder carrying the margin
before, change and after; https://interactivebrokers.github.io/tws-api/margin.html) tells what
the whole combination would add to the account's initial margin. The order is refused with
INSUFFICIENT_FUNDS when that change exceeds the account's AvailableFunds (equity with loan
value less initial margin: https://www.interactivebrokers.com/en/software/tws/usersguidebook/
realtimeactivitymonitoring/available_for_trading.htm), the figure IB itself compares.

When IB gives no what-if (no answer within the bound, an error, or no AvailableFunds reported
yet) the order is refused with the retryable IB_CONNECTION_FAILED rather than sent unchecked:
a combination sent blind could open a position the account cannot carry, and a retry costs the
caller one round trip. Single-leg orders are not checked here (IB's own margin check answers
them, and they take no extra round trip).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ibkr_grpc.domain.errors import GatewayUnavailableError, InsufficientFundsError
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.services.order_preconditions import RETRY_AFTER, reaching_broker
from ibkr_grpc.services.ports import BrokerPort


async def require_margin_for_combination(
    broker: BrokerPort, order: Order, *, timeout_seconds: float
) -> None:
    """Refuse a combination whose what-if initial margin change exceeds the available funds.
    Holds no lock: it only asks IB and reads the account values IB last sent."""
    try:
        async with asyncio.timeout(timeout_seconds):
            preview = await reaching_broker(broker.preview(order))
    except TimeoutError as error:
        raise _no_what_if(order, f"no answer within {timeout_seconds:g} s") from error
    required = preview.initial_margin_change
    if required is None:
        said = "; ".join(preview.warnings) or "no margin figures"
        raise _no_what_if(order, said)
    available = broker.available_funds(order.account)
    if available is None:
        raise GatewayUnavailableError(
            f"IB has not reported the available funds of account {order.account}: the "
            "combination's margin cannot be checked; retry",
            metadata={"account": order.account},
            retry_after=RETRY_AFTER,
        )
    if required > available:
        raise InsufficientFundsError(
            f"IB's what-if puts the combination's initial margin change at {_amount(required)}, "
            f"more than account {order.account}'s available funds of {_amount(available)}",
            account=order.account,
            required=_amount(required),
            available=_amount(available),
        )


def _no_what_if(order: Order, detail: str) -> GatewayUnavailableError:
    return GatewayUnavailableError(
        f"IB gave no what-if margin for the combination ({detail}): it was not sent; retry",
        metadata={"account": order.account},
        retry_after=RETRY_AFTER,
    )


def _amount(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")
