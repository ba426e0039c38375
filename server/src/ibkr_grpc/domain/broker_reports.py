"""What the broker reports, in domain terms: the broker adapter produces these from ib_async's
objects, the services consume them. Nothing here knows ib_async."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import ConnectionState, OrderOrigin, OrderStatus, Side
from ibkr_grpc.domain.orders import OrderTerms


@dataclass(frozen=True, slots=True)
class BrokerOrderStatus:
    """An order's state as the broker last reported it."""

    broker_order_id: int
    perm_id: int
    order_ref: str
    # The API client id that placed the order (IB's order ids are per client id).
    client_id: int
    status: OrderStatus
    filled_quantity: Decimal
    remaining_quantity: Decimal
    average_fill_price: Decimal | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BrokerExecution:
    execution_id: str
    broker_order_id: int
    perm_id: int
    order_ref: str
    client_id: int
    account: str
    contract: ContractSpec
    side: Side
    quantity: Decimal
    price: Decimal
    cumulative_quantity: Decimal
    average_price: Decimal | None
    exchange: str
    execution_time: datetime
    commission: Decimal | None = None
    commission_currency: str = ""
    realized_pnl: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BrokerCommission:
    execution_id: str
    commission: Decimal
    currency: str
    realized_pnl: Decimal | None


class OrderMessageKind(StrEnum):
    """What an IB error or notice about an order means (the broker adapter sorts IB's codes)."""

    # IB refused the order it was sent (201, 203, ...): definitive for an order IB had not yet
    # acknowledged; for a working order it refuses the modification that was sent.
    REJECTION = "REJECTION"
    # IB cancelled the order (202).
    CANCELLATION = "CANCELLATION"
    # IB refused a modification (104, 105, 329, ...); the order is unchanged.
    MODIFY_REFUSAL = "MODIFY_REFUSAL"
    # IB refused a cancel (10147, 10148, 161, ...); the order keeps the status IB reports.
    CANCEL_REFUSAL = "CANCEL_REFUSAL"
    # A warning or notice (399, 404, 434, ...): the order's state does not change.
    WARNING = "WARNING"
    # A code the service does not know: the state does not change, and it is logged loudly.
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class BrokerOrderMessage:
    """An error or warning IB sent about one order (201 rejected, 202 cancelled, 399 warning)."""

    broker_order_id: int
    code: int
    message: str
    kind: OrderMessageKind


@dataclass(frozen=True, slots=True)
class BrokerOpenOrder:
    """An order as IB describes it (openOrder): after placing, after every modification, for
    orders of other API clients and of TWS, and at start-up."""

    broker_order_id: int
    perm_id: int
    order_ref: str
    client_id: int
    account: str
    contract: ContractSpec
    # None when the order uses a type or time in force the service does not model.
    terms: OrderTerms | None
    status: OrderStatus | None
    origin: OrderOrigin
    parent_broker_order_id: int = 0
    oca_group: str = ""


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """Everything the broker knows after a (re)connect, for reconciliation."""

    orders: list[BrokerOrderStatus] = field(default_factory=list)
    open_orders: list[BrokerOpenOrder] = field(default_factory=list)
    executions: list[BrokerExecution] = field(default_factory=list)
    managed_accounts: list[str] = field(default_factory=list)
    next_valid_order_id: int = 0


@dataclass(frozen=True, slots=True)
class GatewayState:
    """The session's state, for GetGatewayStatus and health."""

    state: ConnectionState
    host: str
    port: int
    client_id: int
    server_version: int = 0
    managed_accounts: tuple[str, ...] = ()
    state_change_time: datetime | None = None
    ready_since: datetime | None = None
    reconnect_attempts: int = 0
    last_error: str = ""
    last_error_code: int = 0
    # Why order commands are refused although READY (accounts not matching TRADING_MODE).
    trading_blocked_reason: str = ""
