"""A hand-written broker for the order manager's fast tests: the BrokerPort in memory, answering
each command with the report sequence the broker adapter produces from ib_async's events for
what IB sends. The sequences and where IB documents them:

- a new order: openOrder, then orderStatus (PreSubmitted or Submitted) — IB's order submission
  page, https://interactivebrokers.github.io/tws-api/order_submission.html ("openOrder ...
  orderStatus"), and the real log in https://github.com/erdewit/ib_insync/issues/509;
- a bracket: nothing for the untransmitted parent and first leg, then every order of the group
  once the last leg transmits (https://interactivebrokers.github.io/tws-api/bracket_order.html);
- a modification: openOrder with the new terms, then orderStatus Submitted (ib_insync #509:
  "Submitted 'Modify' -> PreSubmitted -> Submitted" with the new lmtPrice);
- a cancel: orderStatus PendingCancel, orderStatus Cancelled, then error 202 with the order id
  (https://interactivebrokers.github.io/tws-api/message_codes.html: 202 "Order cancelled").

The adapter never reports the Cancelled that ib_async sets on an error, nor the PendingCancel it
sets when cancelOrder is called (tests/broker/test_session_reports.py): only IB's word arrives.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from ibkr_grpc.broker.error_codes import order_message_kind
from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderMessage,
    BrokerOrderStatus,
    GatewayState,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import ConnectionState, OrderOrigin, OrderStatus, Side
from ibkr_grpc.domain.orders import ArrivalQuote, Order, OrderPreview, OrderTerms
from ibkr_grpc.services.ports import BrokerListener

CLIENT_ID = 11
ACCOUNT = "DU1234567"
Report = (
    BrokerOrderStatus | BrokerExecution | BrokerCommission | BrokerOrderMessage | BrokerOpenOrder
)
# What IB answers to a command: the reports, in IB's order.
Answer = Callable[[Order], list[Report]]


def status(
    order: Order, value: OrderStatus, *, filled: str = "0", client_id: int = CLIENT_ID
) -> BrokerOrderStatus:
    quantity = order.terms.quantity
    return BrokerOrderStatus(
        broker_order_id=order.broker_order_id,
        perm_id=perm_id_of(order),
        order_ref=order.order_id,
        client_id=client_id,
        status=value,
        filled_quantity=Decimal(filled),
        remaining_quantity=quantity - Decimal(filled),
        average_fill_price=None,
    )


def open_order(order: Order, terms: OrderTerms | None = None) -> BrokerOpenOrder:
    return BrokerOpenOrder(
        broker_order_id=order.broker_order_id,
        perm_id=perm_id_of(order),
        order_ref=order.order_id,
        client_id=CLIENT_ID,
        account=order.account,
        contract=order.contract,
        terms=terms or order.terms,
        status=OrderStatus.SUBMITTED,
        origin=OrderOrigin.THIS_SERVER,
    )


def message(order: Order, code: int, text: str = "") -> BrokerOrderMessage:
    return BrokerOrderMessage(
        order.broker_order_id, code, text or f"IB says {code}", order_message_kind(code)
    )


def execution(
    order: Order,
    *,
    execution_id: str,
    quantity: str,
    price: str,
    cumulative: str,
    client_id: int = CLIENT_ID,
) -> BrokerExecution:
    return BrokerExecution(
        execution_id=execution_id,
        broker_order_id=order.broker_order_id,
        perm_id=perm_id_of(order),
        order_ref=order.order_id if client_id == CLIENT_ID else "",
        client_id=client_id,
        account=order.account,
        contract=order.contract,
        side=order.terms.side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        cumulative_quantity=Decimal(cumulative),
        average_price=Decimal(price),
        exchange="ISLAND",
        execution_time=datetime.now(UTC),
    )


def perm_id_of(order: Order) -> int:
    return order.perm_id or 1_000_000 + order.broker_order_id


def accepted(order: Order) -> list[Report]:
    return [open_order(order), status(order, OrderStatus.SUBMITTED)]


def cancelled(order: Order) -> list[Report]:
    return [
        status(order, OrderStatus.PENDING_CANCEL),
        status(order, OrderStatus.CANCELLED),
        message(order, 202, "Order Canceled - reason:"),
    ]


@dataclass
class FakeBroker:
    """BrokerPort in memory. Set `on_new`, `on_modify` and `on_cancel` to change IB's answers;
    set `gate` to hold every write until it is set; `connected = False` fails writes the way
    the adapter does (ConnectionError before anything is written)."""

    accounts: tuple[str, ...] = (ACCOUNT,)
    quote: ArrivalQuote | None = field(
        default_factory=lambda: ArrivalQuote(
            Decimal("99.90"), Decimal("100.10"), Decimal(100), datetime.now(UTC)
        )
    )
    on_new: Answer = accepted
    on_modify: Answer = accepted
    on_cancel: Answer = cancelled
    connected: bool = True
    # Writes fail although order ids could be reserved (the socket dropped in between).
    writes_fail: bool = False
    ready: bool = True
    gate: asyncio.Event | None = None
    # IB's what-if: the initial margin change it answers (None: no margin figures), held until
    # `what_if_gate` is set; and the account's AvailableFunds.
    initial_margin_change: Decimal | None = Decimal(0)
    what_if_gate: asyncio.Event | None = None
    funds: Decimal | None = Decimal(1_000_000)
    listener: BrokerListener | None = None
    placed: list[Order] = field(default_factory=list)
    # The orders IB was asked a what-if about, in order.
    previewed: list[Order] = field(default_factory=list)
    transmitted: list[bool] = field(default_factory=list)
    cancels: list[int] = field(default_factory=list)
    # The data requests made of IB, by kind, in order.
    requests: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _known: dict[int, Order] = field(default_factory=dict)
    _held: list[Order] = field(default_factory=list)

    def state(self) -> GatewayState:
        state = ConnectionState.READY if self.ready else ConnectionState.DISCONNECTED
        return GatewayState(state, "127.0.0.1", 4002, CLIENT_ID, managed_accounts=self.accounts)

    def is_ready(self) -> bool:
        return self.ready

    def managed_accounts(self) -> tuple[str, ...]:
        return self.accounts

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        self.requests.append("contract_details")
        return replace(contract, con_id=265598, primary_exchange="NASDAQ")

    async def arrival_quote(self, contract: ContractSpec) -> ArrivalQuote | None:
        del contract
        self.requests.append("snapshot")
        return self.quote

    def reserve_order_ids(self, count: int, floor: int) -> list[int]:
        if not self.connected:
            message_text = "not connected to IB Gateway"
            raise ConnectionError(message_text)
        ids = [next(self._ids) for _ in range(count)]
        while ids[0] <= floor:
            ids = [next(self._ids) for _ in range(count)]
        return ids

    async def place(self, order: Order, *, parent_broker_order_id: int, transmit: bool) -> None:
        del parent_broker_order_id
        if self.gate is not None:
            await self.gate.wait()
        if not self.connected or self.writes_fail:
            message_text = "not connected to IB Gateway"
            raise ConnectionError(message_text)
        self.placed.append(order)
        self.transmitted.append(transmit)
        modifying = order.broker_order_id in self._known
        self._known[order.broker_order_id] = order
        if modifying:
            self.deliver(self.on_modify(order))
            return
        self._held.append(order)
        if transmit:
            held, self._held = self._held, []
            for member in held:
                self.deliver(self.on_new(member))

    async def cancel(self, broker_order_id: int) -> None:
        if not self.connected or self.writes_fail:
            message_text = "not connected to IB Gateway"
            raise ConnectionError(message_text)
        self.cancels.append(broker_order_id)
        self.deliver(self.on_cancel(self._known[broker_order_id]))

    async def preview(self, order: Order) -> OrderPreview:
        self.requests.append("what_if")
        self.previewed.append(order)
        if self.what_if_gate is not None:
            await self.what_if_gate.wait()
        return OrderPreview(
            None, order.contract.currency, initial_margin_change=self.initial_margin_change
        )

    def available_funds(self, account: str) -> Decimal | None:
        del account
        return self.funds

    def deliver(self, reports: list[Report]) -> None:
        """Hand reports to the listener synchronously, as the adapter does from ib_async."""
        listener = self.listener
        assert listener is not None
        for report in reports:
            if isinstance(report, BrokerOrderStatus):
                listener.order_status(report)
            elif isinstance(report, BrokerExecution):
                listener.execution(report)
            elif isinstance(report, BrokerCommission):
                listener.commission(report)
            elif isinstance(report, BrokerOrderMessage):
                listener.order_message(report)
            else:
                listener.open_order(report)

    def sent(self, side: Side | None = None) -> list[Order]:
        return [order for order in self.placed if side is None or order.terms.side is side]
