"""Broker reports applied to stored orders, and reconciliation with IB's records after every
(re)connect. The order manager calls these under its mutation lock, one report at a time, in
the order IB sent them; each recorded change also settles the commands waiting on it.

The rules: a status changes only on IB's word; REJECTED only on IB's definitive refusal of an
order it had not acknowledged; a refused modify or cancel is a COMMAND_REFUSED event and leaves
the status alone; orders and fills placed outside this server are recorded with their origin."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import structlog

from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderMessage,
    BrokerOrderStatus,
    BrokerSnapshot,
    OrderMessageKind,
)
from ibkr_grpc.domain.enums import OrderEventType, OrderOrigin, OrderStatus
from ibkr_grpc.domain.errors import OrderNotFoundError
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.services import order_transitions as transitions
from ibkr_grpc.services.order_commands import PendingCommands
from ibkr_grpc.services.ports import EventDraft, OrderRepository

_log = structlog.get_logger("ibkr_grpc.orders")

# Commission reports that arrived before their execution, kept until it does (bounded: a
# report whose execution never comes must not be kept for ever).
_PENDING_COMMISSIONS_LIMIT = 10_000
NEVER_REACHED_IB = (
    "IB has no open order, completed order or execution of it after a full sync: it never "
    "reached IB; PlaceOrder with the same client_order_id sends it"
)
OUTCOME_UNKNOWN = "IB has no record of this order after reconnecting; its outcome is unknown"


class OrderReports:
    def __init__(
        self,
        repository: OrderRepository,
        commands: PendingCommands,
        *,
        clock: Callable[[], datetime],
        client_id: Callable[[], int],
        on_rejection: Callable[[], None],
    ) -> None:
        self._repository = repository
        self._commands = commands
        self._clock = clock
        self._client_id = client_id
        self._on_rejection = on_rejection
        self._pending_commissions: OrderedDict[str, BrokerCommission] = OrderedDict()

    async def apply(self, report: object) -> None:
        if isinstance(report, BrokerOrderStatus):
            await self.apply_status(report, OrderEventType.STATUS_CHANGED)
        elif isinstance(report, BrokerExecution):
            await self.apply_execution(report)
        elif isinstance(report, BrokerCommission):
            await self.apply_commission(report)
        elif isinstance(report, BrokerOrderMessage):
            await self.apply_message(report)
        elif isinstance(report, BrokerOpenOrder):
            await self.apply_open_order(report, OrderEventType.MODIFIED)

    # ---- finding -------------------------------------------------------------------------

    async def _find(
        self, report: BrokerOrderStatus | BrokerExecution | BrokerOpenOrder
    ) -> Order | None:
        """The stored order a report is about. IB's order ids are per API client, so an order id
        names one of ours only when the report comes from our own client id; the permId is
        IB's id across clients and sessions."""
        order_ref, perm_id = report.order_ref, report.perm_id
        broker_order_id, client_id = report.broker_order_id, report.client_id
        if order_ref.startswith("ord_"):
            try:
                return await self._repository.get(order_ref)
            except OrderNotFoundError:  # an orderRef another client set: fall back to ids
                _log.debug("unknown order reference", order_ref=order_ref)
        if perm_id:
            found = await self._repository.find_by_broker_ids(perm_id=perm_id)
            if found is not None:
                return found
        if broker_order_id > 0 and client_id == self._client_id():
            return await self._repository.find_by_broker_ids(broker_order_id=broker_order_id)
        return None

    # ---- recording -----------------------------------------------------------------------

    async def _record(self, draft: EventDraft) -> None:
        await self._repository.record([draft])
        order = draft.order
        self._commands.acknowledged(order)
        if order.status.is_final:
            self._commands.finished(order)
        elif order.status is OrderStatus.PENDING_CANCEL:
            self._commands.cancel_acknowledged(order)

    # ---- reports -------------------------------------------------------------------------

    async def apply_status(self, report: BrokerOrderStatus, event_type: OrderEventType) -> None:
        order = await self._find(report)
        if order is None:
            return
        updated = transitions.apply_status(order, report, self._clock())
        if updated is not None:
            await self._record(
                EventDraft(event_type, updated, updated.update_time, detail=report.reason)
            )
        elif order.status is not OrderStatus.PENDING_SUBMIT:
            self._commands.acknowledged(order)

    async def apply_execution(self, report: BrokerExecution) -> None:
        order = await self._find(report)
        if order is None:
            # An execution of an order this server has not seen (placed elsewhere, not reported
            # to this client id): kept as a fill of no order, with its commission.
            fill = transitions.fill_of(report, order_id="", reference=None)
            pending = self._pending_commissions.pop(fill.execution_id, None)
            if pending is not None:
                fill = transitions.apply_commission(fill, pending)
            await self._repository.save_fill(fill)
            return
        if order.is_combination:
            # A leg's execution: its quantity and price are the leg's, not the combination's,
            # whose filled quantity and net average price come with IB's orderStatus (and no
            # arrival price of the leg was kept to measure it against).
            fill = transitions.fill_of(report, order_id=order.order_id, reference=None)
            updated = replace(
                order, perm_id=report.perm_id or order.perm_id, update_time=self._clock()
            )
        else:
            updated, fill = transitions.apply_execution(order, report, self._clock())
        pending = self._pending_commissions.pop(fill.execution_id, None)
        if pending is not None:
            fill = transitions.apply_commission(fill, pending)
        if fill.commission is not None:
            updated = transitions.add_commission(updated, None, fill, updated.update_time)
        await self._record(EventDraft(OrderEventType.FILL, updated, updated.update_time, fill=fill))

    async def apply_commission(self, report: BrokerCommission) -> None:
        fill = await self._repository.get_fill(report.execution_id)
        if fill is None:
            self._pending_commissions[report.execution_id] = report
            while len(self._pending_commissions) > _PENDING_COMMISSIONS_LIMIT:
                self._pending_commissions.popitem(last=False)
            return
        updated_fill = transitions.apply_commission(fill, report)
        if updated_fill == fill:
            return
        if not fill.order_id:
            await self._repository.save_fill(updated_fill)
            return
        order = await self._repository.get(fill.order_id)
        now = self._clock()
        order = transitions.add_commission(order, fill.commission, updated_fill, now)
        await self._repository.record(
            [EventDraft(OrderEventType.COMMISSION_REPORTED, order, now, fill=updated_fill)]
        )

    async def apply_message(self, report: BrokerOrderMessage) -> None:
        # IB sends an order's errors to the client that placed it: the id is one of ours.
        order = await self._repository.find_by_broker_ids(broker_order_id=report.broker_order_id)
        if order is None:
            return
        now = self._clock()
        detail = f"IB {report.code}: {report.message}"
        kind = report.kind
        modifying = self._commands.modifying(order.order_id) is not None
        if kind is OrderMessageKind.CANCELLATION and not order.status.is_final:
            cancelled = replace(
                order, status=OrderStatus.CANCELLED, status_reason=report.message, update_time=now
            )
            await self._record(
                EventDraft(OrderEventType.STATUS_CHANGED, cancelled, now, detail=detail)
            )
            return
        if kind is OrderMessageKind.REJECTION and not modifying:
            if order.status is OrderStatus.PENDING_SUBMIT:
                self._on_rejection()
                rejected = replace(
                    order,
                    status=OrderStatus.REJECTED,
                    status_reason=report.message,
                    update_time=now,
                )
                await self._record(
                    EventDraft(OrderEventType.STATUS_CHANGED, rejected, now, detail=detail)
                )
                return
        elif kind in {
            OrderMessageKind.REJECTION,
            OrderMessageKind.MODIFY_REFUSAL,
            OrderMessageKind.CANCEL_REFUSAL,
        }:
            await self._record(
                EventDraft(OrderEventType.COMMAND_REFUSED, order, now, detail=detail)
            )
            self._commands.refuse(
                order,
                cancel_first=kind is OrderMessageKind.CANCEL_REFUSAL,
                code=report.code,
                message=report.message,
            )
            return
        await self._record(EventDraft(OrderEventType.BROKER_MESSAGE, order, now, detail=detail))

    async def apply_open_order(self, report: BrokerOpenOrder, event_type: OrderEventType) -> None:
        order = await self._find(report)
        if order is None:
            finished = report.status is not None and report.status.is_final
            if event_type is OrderEventType.RECONCILED and finished:
                # A finished order of today's completed orders: IB sends those with order and
                # client id 0, so nothing says who placed it; its fills are kept.
                return
            await self._discover(report)
            return
        requested = self._commands.modifying(order.order_id)
        reported = report.terms
        confirmed = (
            requested is not None
            and reported is not None
            and transitions.same_broker_terms(requested, reported)
        )
        terms = order.terms
        detail = ""
        if confirmed and requested is not None:
            terms, detail = requested, "IB confirmed the modification"
        elif reported is not None and not transitions.same_broker_terms(order.terms, reported):
            terms = transitions.terms_from_broker(order.terms, reported)
            detail = "IB reports terms changed outside this server"
        if terms != order.terms:
            now = self._clock()
            updated = replace(
                order, terms=terms, perm_id=order.perm_id or report.perm_id, update_time=now
            )
            # Not an acknowledgement of a new order: IB describes an order before its status.
            await self._repository.record([EventDraft(event_type, updated, now, detail=detail)])
            order = updated
        if confirmed:
            self._commands.modification_confirmed(order)

    async def _discover(self, report: BrokerOpenOrder) -> None:
        if report.origin is OrderOrigin.THIS_SERVER or not report.perm_id:
            return
        if report.terms is None:
            _log.info(
                "an order placed elsewhere uses a type the service does not model",
                perm_id=report.perm_id,
            )
            return
        now = self._clock()
        order = transitions.discovered_order(report, report.terms, now)
        origin = report.origin.value.lower().replace("_", " ")
        detail = f"placed outside this server ({origin}, API client id {report.client_id})"
        await self._repository.record(
            [EventDraft(OrderEventType.DISCOVERED, order, now, detail=detail)]
        )

    # ---- reconciliation ------------------------------------------------------------------

    async def reconcile(self, snapshot: BrokerSnapshot) -> None:
        """Settle every stored working order, record every fill and discover every order placed
        elsewhere, from IB's own records after a (re)connect. What IB lists is read from the
        store in a few bulk queries and only what changed is written, so the time grows with
        IB's records of the day and the open work, not with the stored history."""
        reports: list[BrokerOrderStatus | BrokerOpenOrder | BrokerExecution] = [
            *snapshot.orders,
            *snapshot.open_orders,
            *snapshot.executions,
        ]
        known = await self._repository.orders_known_to_broker(
            {r.order_ref for r in reports if r.order_ref.startswith("ord_")},
            {r.perm_id for r in reports if r.perm_id},
        )
        by_reference = {order.order_id: order for order in known}
        by_perm_id = {order.perm_id: order for order in known if order.perm_id}

        def stored(report: BrokerOrderStatus | BrokerOpenOrder) -> Order | None:
            return by_reference.get(report.order_ref) or by_perm_id.get(report.perm_id)

        for open_order in snapshot.open_orders:
            order = stored(open_order)
            if order is None or self._terms_change(order, open_order):
                await self.apply_open_order(open_order, OrderEventType.RECONCILED)
        await self._reconcile_executions(snapshot)
        now = self._clock()
        for status in snapshot.orders:
            order = stored(status)
            if order is None or transitions.apply_status(order, status, now) is not None:
                await self.apply_status(status, OrderEventType.RECONCILED)
        await self._settle_unknown(snapshot)

    def _terms_change(self, order: Order, report: BrokerOpenOrder) -> bool:
        if self._commands.modifying(order.order_id) is not None:
            return True
        return report.terms is not None and not transitions.same_broker_terms(
            order.terms, report.terms
        )

    async def _reconcile_executions(self, snapshot: BrokerSnapshot) -> None:
        stored = {
            fill.execution_id: fill
            for fill in await self._repository.fills_by_execution_ids(
                [execution.execution_id for execution in snapshot.executions]
            )
        }
        for execution in snapshot.executions:
            fill = stored.get(execution.execution_id)
            if fill is not None and execution.commission in {None, fill.commission}:
                continue  # recorded already, with this commission
            await self.apply_execution(execution)
            if execution.commission is not None:
                await self.apply_commission(
                    BrokerCommission(
                        execution.execution_id,
                        execution.commission,
                        execution.commission_currency,
                        execution.realized_pnl,
                    )
                )

    async def _settle_unknown(self, snapshot: BrokerSnapshot) -> None:
        known_refs = {status.order_ref for status in snapshot.orders}
        known_refs |= {report.order_ref for report in snapshot.open_orders}
        known_refs |= {execution.order_ref for execution in snapshot.executions}
        known_perm_ids = {status.perm_id for status in snapshot.orders if status.perm_id}
        known_perm_ids |= {report.perm_id for report in snapshot.open_orders if report.perm_id}
        known_perm_ids |= {e.perm_id for e in snapshot.executions if e.perm_id}
        for order in await self._repository.working_orders():
            if order.order_id in known_refs or order.perm_id in known_perm_ids:
                continue
            if order.origin is not OrderOrigin.THIS_SERVER:
                continue
            now = self._clock()
            if order.status is OrderStatus.PENDING_SUBMIT and order.filled_quantity == 0:
                # IB never acknowledged it and has no trace of it: it never reached IB.
                settled = transitions.not_sent(order, NEVER_REACHED_IB, now)
                await self._record(
                    EventDraft(OrderEventType.RECONCILED, settled, now, detail=NEVER_REACHED_IB)
                )
            elif order.status_reason != OUTCOME_UNKNOWN:
                flagged = replace(order, status_reason=OUTCOME_UNKNOWN, update_time=now)
                await self._record(
                    EventDraft(OrderEventType.RECONCILED, flagged, now, detail=OUTCOME_UNKNOWN)
                )
