"""The interfaces the services need from the outside world. The broker adapter implements
BrokerPort; the services never import ib_async or the adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ibkr_grpc.domain.audit import AuditEntry
from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderMessage,
    BrokerOrderStatus,
    BrokerSnapshot,
    GatewayState,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderEventType
from ibkr_grpc.domain.market_data import Quote
from ibkr_grpc.domain.orders import (
    ArrivalQuote,
    Fill,
    FillPage,
    Order,
    OrderEvent,
    OrderPage,
    OrderPreview,
)
from ibkr_grpc.domain.queries import FillFilter, OrderFilter
from ibkr_grpc.domain.risk import RiskLimits, TradingState


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An AIP-155 request id, a fingerprint of the request it came with, and its order."""

    client_order_id: str
    request_fingerprint: str
    order_id: str


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An order event to record: the order's new state, and the fill for fill events."""

    event_type: OrderEventType
    order: Order
    event_time: datetime
    fill: Fill | None = None
    detail: str = ""


class OrderRepository(Protocol):
    """Durable orders, fills and order events (implemented by store.order_store.OrderStore)."""

    def add_listener(self, listener: Callable[[int], Awaitable[None]]) -> None: ...
    def remove_listener(self, listener: Callable[[int], Awaitable[None]]) -> None: ...
    async def create_orders(
        self,
        orders: Sequence[Order],
        *,
        idempotency: IdempotencyRecord,
        event_time: datetime,
        resend_of: str = "",
    ) -> list[OrderEvent]: ...
    async def record(self, drafts: Sequence[EventDraft]) -> list[OrderEvent]: ...
    async def get(self, order_id: str) -> Order: ...
    async def get_fill(self, execution_id: str) -> Fill | None: ...
    async def save_fill(self, fill: Fill) -> bool:
        """Store (or update) a fill of no known order; False if it was stored already
        unchanged."""
        ...

    async def find_idempotency(self, client_order_id: str) -> IdempotencyRecord | None: ...
    async def find_by_broker_ids(
        self, *, perm_id: int = 0, broker_order_id: int = 0
    ) -> Order | None: ...
    async def working_orders(self, account: str = "") -> list[Order]: ...
    async def orders_known_to_broker(
        self, order_ids: Collection[str], perm_ids: Collection[int]
    ) -> list[Order]: ...
    async def fills_by_execution_ids(self, execution_ids: Collection[str]) -> list[Fill]: ...
    async def max_broker_order_id(self) -> int: ...
    async def list_orders(
        self, filters: OrderFilter, page_size: int, page_token: str
    ) -> OrderPage: ...
    async def list_fills(
        self, filters: FillFilter, page_size: int, page_token: str
    ) -> FillPage: ...
    async def events_after(
        self, sequence: int, *, account: str = "", limit: int = 500
    ) -> list[OrderEvent]: ...
    async def last_sequence(self) -> int: ...
    async def archived_through(self, *, account: str = "") -> int:
        """The newest sequence archival moved out of the log (of the account), 0 if none."""
        ...

    async def sequence_before_newest(self, count: int, *, account: str = "") -> int: ...


class BrokerListener(Protocol):
    """Receives the broker's reports, in the order the broker sent them."""

    def order_status(self, report: BrokerOrderStatus) -> None: ...
    def execution(self, report: BrokerExecution) -> None: ...
    def commission(self, report: BrokerCommission) -> None: ...
    def order_message(self, report: BrokerOrderMessage) -> None: ...
    def open_order(self, report: BrokerOpenOrder) -> None: ...


# Called with the broker's records after every (re)connect, before the session is READY;
# the session becomes READY only when it returns.
Reconciler = Callable[[BrokerSnapshot], Awaitable[None]]


class BrokerPort(Protocol):
    """The order-facing side of the gateway session."""

    def state(self) -> GatewayState: ...

    def is_ready(self) -> bool: ...

    def managed_accounts(self) -> tuple[str, ...]: ...

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        """The unique contract IB knows for this description; InvalidContractError if none."""
        ...

    async def arrival_quote(self, contract: ContractSpec) -> ArrivalQuote | None:
        """The current bid/ask/last, if the broker has them quickly; None otherwise."""
        ...

    def reserve_order_ids(self, count: int, floor: int) -> list[int]:
        """`count` fresh broker order ids, all above `floor` and above any id used before.
        ConnectionError when not connected."""
        ...

    async def place(self, order: Order, *, parent_broker_order_id: int, transmit: bool) -> None:
        """Send (or re-send, to modify) an order. Returns once it is written to the socket;
        ConnectionError when nothing was written (not connected)."""
        ...

    async def cancel(self, broker_order_id: int) -> None:
        """Ask IB to cancel an order; ConnectionError when nothing was written."""
        ...

    async def preview(self, order: Order) -> OrderPreview:
        """IB's what-if margin and commission estimate for the order."""
        ...

    def available_funds(self, account: str) -> Decimal | None:
        """The account's AvailableFunds (base currency) as IB last reported it; None before
        IB has reported it."""
        ...


class Auditor(Protocol):
    """Durable record of mutating calls (implemented by store.audit_store.AuditStore)."""

    async def record(self, entry: AuditEntry) -> None: ...


class MessageBus(Protocol):
    """Publish/subscribe fan-out between components and server processes (Redis pub/sub, or
    in-process when there is no Redis). Delivery is best effort: subscribers that must not
    miss anything (order events) re-read the durable store when woken. A subscription
    outlives a Redis restart (it resubscribes by itself; messages sent meanwhile are lost),
    and publish never raises for a Redis that is down or hung."""

    async def publish(self, channel: str, payload: bytes) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]: ...

    async def close(self) -> None: ...


class Cache(Protocol):
    """Short-lived values shared by server processes (Redis, or in-process)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_seconds: float) -> None: ...

    async def close(self) -> None: ...


class Telemetry(Protocol):
    """What the services report for monitoring (implemented over Prometheus metrics)."""

    def order_sent(self, order_type: str, side: str) -> None: ...

    def order_acknowledged(self, seconds: float) -> None: ...

    def order_refused(self, reason: str) -> None: ...

    def fill_recorded(self, side: str) -> None: ...

    def quotes_conflated(self, count: int) -> None: ...

    def quote_sent(self, age_seconds: float) -> None: ...

    def trading_halted(self, *, halted: bool) -> None: ...


class NoTelemetry:
    """Reports nothing: for components used without monitoring (tests, tools)."""

    def order_sent(self, order_type: str, side: str) -> None:
        del order_type, side

    def order_acknowledged(self, seconds: float) -> None:
        del seconds

    def order_refused(self, reason: str) -> None:
        del reason

    def fill_recorded(self, side: str) -> None:
        del side

    def quotes_conflated(self, count: int) -> None:
        del count

    def quote_sent(self, age_seconds: float) -> None:
        del age_seconds

    def trading_halted(self, *, halted: bool) -> None:
        del halted


class RiskRepository(Protocol):
    """Durable risk limits and trading state (implemented by store.risk_store.RiskStore)."""

    async def load_limits(self) -> RiskLimits | None: ...

    async def save_limits(self, limits: RiskLimits, *, updated_by: str, now: datetime) -> None: ...

    async def load_states(self) -> list[TradingState]:
        """Every stored trading state: the one of every account (account "") and each
        account's own."""
        ...

    async def save_state(self, state: TradingState) -> None:
        """Insert or replace the stored state of `state.account`."""
        ...


class MarketView(Protocol):
    """Contract lookups and quotes the market-data service already holds (cached lookups,
    held lines), so an order costs IB one request, not three."""

    async def qualify(self, contract: ContractSpec) -> ContractSpec: ...

    def held_quote(self, contract: ContractSpec) -> Quote | None: ...


class TradingGuard(Protocol):
    """Refuses new orders and modifications (never cancels) for an account: the halt, the
    paper/live check."""

    def ensure_trading_allowed(self, account: str) -> None: ...
