"""Who hears about an order event, and in which messages: its own client, and the master client.

IB reports an order to the API client that placed it. With a Master API client ID configured,
that client also "automatically receive[s] order status and trade callbacks from orders placed
from other clients" (https://interactivebrokers.github.io/tws-api/order_submission.html), and
commission reports for every client
(https://interactivebrokers.github.io/tws-api/executions_commissions.html). Errors about an
order go only to the client that placed it: the order id in an error names an order of the
receiving client (ib_async looks the trade up under its own client id).
"""

from __future__ import annotations

from collections.abc import Callable

from ibkr_simulator import codes, order_messages, outgoing
from ibkr_simulator.order_events import (
    ComboFilled,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderOpened,
    OrderPreviewed,
    OrderRejected,
    OrderStatusChanged,
)
from ibkr_simulator.order_model import SimulatedOrder
from ibkr_simulator.outgoing import Message
from ibkr_simulator.recipient import Recipient

FindClient = Callable[[int], Recipient | None]
# Events about an order the gateway holds: what a master client hears of other clients' orders.
HeldOrderEvent = OrderOpened | OrderStatusChanged | OrderCancelled | OrderFilled | ComboFilled


class OrderEventRouter:
    """Turns order events into wire messages for the owning client and the master client."""

    def __init__(self, master_client_id: int | None, find_client: FindClient) -> None:
        self._master_client_id = master_client_id
        self._find_client = find_client
        # permIds of other clients' orders that each master connection has had an openOrder
        # for. A master that connects after an order was placed first hears of it through a
        # status change; the openOrder goes first so the client knows the order (ib_async
        # logs "No order found" for an orderStatus of an order it has never seen).
        self._introduced: dict[int, set[int]] = {}

    def route(self, event: OrderEvent) -> None:
        if isinstance(event, OrderRejected):
            owner = self._find_client(event.client_id)
            if owner is not None:
                owner.send(
                    outgoing.error(owner.server_version, event.order_id, event.code, event.message)
                )
                if event.status is not None:
                    owner.send(outgoing.order_status(event.status))
            return
        owner = self._find_client(event.order.client_id)
        if owner is not None:
            self._send_to_owner(owner, event)
        master = self._master_for(event.order)
        # A what-if order is an answer to one request, never a placed order: nothing to share.
        if master is not None and not isinstance(event, OrderPreviewed):
            self._send_to_master(master, event)

    def forget(self, recipient: Recipient) -> None:
        """The connection closed: a new master connection starts knowing no foreign orders."""
        self._introduced.pop(recipient.connection_id, None)

    def _master_for(self, order: SimulatedOrder) -> Recipient | None:
        master_id = self._master_client_id
        if master_id is None or order.client_id == master_id:
            return None
        return self._find_client(master_id)

    def _send_to_owner(self, owner: Recipient, event: HeldOrderEvent | OrderPreviewed) -> None:
        version = owner.server_version
        if isinstance(event, OrderPreviewed):
            order = event.order
            estimate = order_messages.WhatIfEstimate(
                event.margin, event.commission, order.contract.currency
            )
            owner.send(order_messages.open_order(version, order, "PreSubmitted", what_if=estimate))
            return
        for message in _event_messages(version, event):
            owner.send(message)
        if isinstance(event, OrderCancelled) and event.confirm:
            owner.send(
                outgoing.error(
                    version,
                    event.order.order_id,
                    codes.ORDER_CANCELLED,
                    "Order Canceled - reason:" + event.reason,
                )
            )

    def _send_to_master(self, master: Recipient, event: HeldOrderEvent) -> None:
        version = master.server_version
        order = event.order
        introduced = self._introduced.setdefault(master.connection_id, set())
        if order.perm_id not in introduced and not isinstance(event, OrderOpened):
            master.send(order_messages.open_order(version, order, event.status.status))
        introduced.add(order.perm_id)
        for message in _event_messages(version, event):
            master.send(message)


def _event_messages(version: int, event: HeldOrderEvent) -> list[Message]:
    """The messages IB sends for an event, the same for the owner and the master client."""
    if isinstance(event, OrderOpened):
        return [
            order_messages.open_order(version, event.order, event.status.status),
            outgoing.order_status(event.status),
        ]
    if isinstance(event, OrderFilled):
        record = event.execution
        return [
            outgoing.execution_details(version, -1, record.report),
            outgoing.order_status(event.status),
            outgoing.commission_report(
                record.report.execution_id, record.commission, record.currency, record.realized_pnl
            ),
        ]
    if isinstance(event, ComboFilled):
        records = (*event.legs, event.combo)
        messages = [outgoing.execution_details(version, -1, record.report) for record in records]
        messages.append(outgoing.order_status(event.status))
        messages += [
            outgoing.commission_report(
                record.report.execution_id, record.commission, record.currency, record.realized_pnl
            )
            for record in records
        ]
        return messages
    return [outgoing.order_status(event.status)]
