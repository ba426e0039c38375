"""What the broker reports, in domain terms: the broker adapter produces these from ib_async's
objects, the services consume them. Nothing here knows ib_async."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import ConnectionState, OrderStatus, Side


@dataclass(frozen=True, slots=True)
class BrokerOrderStatus:
    """An order's state as the broker last reported it."""

    broker_order_id: int
    perm_id: int
    order_ref: str
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


@dataclass(frozen=True, slots=True)
class BrokerOrderMessage:
    """An error or warning IB sent about one order (201 rejected, 202 cancelled, 399 warning)."""

    broker_order_id: int
    code: int
    message: str
    rejects_order: bool


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """Everything the broker knows after a (re)connect, for reconciliation."""

    orders: list[BrokerOrderStatus] = field(default_factory=list)
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
