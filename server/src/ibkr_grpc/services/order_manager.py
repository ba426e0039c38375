"""Order management: placing, changing and cancelling orders, and keeping their state true to
IB's reports. Every state change is stored, as an order event, before anything is sent to IB.

One mutation lock serialises every read-modify-write of order state (API calls and broker
reports alike), so no update is lost; broker reports are consumed in arrival order by one task.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOrderMessage,
    BrokerOrderStatus,
    BrokerSnapshot,
)
from ibkr_grpc.domain.enums import BracketRole, OrderEventType, OrderStatus
from ibkr_grpc.domain.errors import (
    AccountNotFoundError,
    BrokerRejectedError,
    DuplicateClientOrderIdError,
    FieldViolation,
    GatewayUnavailableError,
    OrderNotFoundError,
    OrderNotModifiableError,
    PermissionDeniedError,
    ValidationError,
)
from ibkr_grpc.domain.identity import SYSTEM, Caller, Role
from ibkr_grpc.domain.orders import Order, OrderIntent, OrderPreview, OrderTerms
from ibkr_grpc.services import order_transitions as transitions
from ibkr_grpc.services.order_changes import OrderChanges, changed_terms
from ibkr_grpc.services.ports import (
    BrokerPort,
    EventDraft,
    IdempotencyRecord,
    NoTelemetry,
    OrderRepository,
    Telemetry,
)
from ibkr_grpc.services.risk_engine import RiskEngine
from ibkr_grpc.services.trading_control import TradingControl

_log = structlog.get_logger("ibkr_grpc.orders")

Report = BrokerOrderStatus | BrokerExecution | BrokerCommission | BrokerOrderMessage


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: Order
    bracket_orders: tuple[Order, ...] = ()
    preview: OrderPreview | None = None


class OrderManager:
    def __init__(
        self,
        repository: OrderRepository,
        broker: BrokerPort,
        *,
        clock: Callable[[], datetime],
        acknowledgement_timeout: timedelta,
        telemetry: Telemetry | None = None,
        risk: RiskEngine | None = None,
        trading: TradingControl | None = None,
    ) -> None:
        self._telemetry = telemetry or NoTelemetry()
        self._risk = risk
        self._trading = trading
        self._repository = repository
        self._broker = broker
        self._clock = clock
        self._acknowledgement_timeout = acknowledgement_timeout.total_seconds()
        self._mutation_lock = asyncio.Lock()
        # Broker reports are facts that must not be lost, and ib_async hands them over in
        # synchronous callbacks that cannot wait: this queue is unbounded on purpose. Its
        # volume is bounded by IB's own message rate (50/s).
        self._reports: asyncio.Queue[Report] = asyncio.Queue()
        self._changed = asyncio.Condition()
        self._pending_commissions: dict[str, BrokerCommission] = {}
        self._consumer: asyncio.Task[None] | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._consume_reports(), name="order-reports")
            self._consumer.add_done_callback(_log_task_end)

    async def stop(self) -> None:
        """Finish the reports already received, then stop. Safe to call twice."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        await self._reports.join()
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)

    # ---- broker listener (called synchronously by the broker adapter) -----------------------

    def order_status(self, report: BrokerOrderStatus) -> None:
        self._reports.put_nowait(report)

    def execution(self, report: BrokerExecution) -> None:
        self._reports.put_nowait(report)

    def commission(self, report: BrokerCommission) -> None:
        self._reports.put_nowait(report)

    def order_message(self, report: BrokerOrderMessage) -> None:
        self._reports.put_nowait(report)

    async def settled(self) -> None:
        """Wait until every report received so far is applied (for reconciliation and tests)."""
        await self._reports.join()

    # ---- placing -------------------------------------------------------------------------

    async def place(self, intent: OrderIntent, caller: Caller = SYSTEM) -> PlaceResult:
        key = intent.client_order_id or f"generated-{uuid.uuid4().hex}"
        fingerprint = transitions.request_fingerprint(intent)
        if not intent.validate_only:
            existing = await self._repository.find_idempotency(key)
            if existing is not None:
                return await self._replay(existing, fingerprint, caller)
        self._require_ready()
        account = self._resolve_account(intent.account)
        if not caller.may_use_account(account):
            raise PermissionDeniedError(
                f"{caller.subject} may not trade in account {account}",
                metadata={"account": account},
            )
        if self._trading is not None:
            self._trading.ensure_trading_allowed()
        contract = await self._broker.qualify(intent.contract)
        quote = await self._broker.arrival_quote(contract)
        now = self._clock()
        orders = transitions.build_orders(
            intent,
            account=account,
            contract=contract,
            client_order_id=key,
            arrival_quote=quote,
            now=now,
            placed_by=caller.subject,
        )
        if self._risk is not None:
            await self._risk.check(orders, reference_price=quote.reference_price if quote else None)
        structlog.contextvars.bind_contextvars(
            order_id=orders[0].order_id, symbol=contract.symbol, account=account
        )
        if intent.validate_only:
            preview = await self._broker.preview(orders[0])
            return PlaceResult(orders[0], tuple(orders[1:]), preview)
        async with self._mutation_lock:
            floor = await self._repository.max_broker_order_id()
            ids = self._broker.reserve_order_ids(len(orders), floor)
            orders = [
                replace(order, broker_order_id=id_) for order, id_ in zip(orders, ids, strict=True)
            ]
            record = IdempotencyRecord(key, fingerprint, orders[0].order_id)
            try:
                await self._repository.create_orders(orders, idempotency=record, event_time=now)
            except DuplicateClientOrderIdError:
                existing = await self._repository.find_idempotency(key)
                if existing is None:
                    raise
                return await self._replay(existing, fingerprint, caller)
            if self._risk is not None:
                self._risk.accepted(account)
            await self._send_new(orders)
        await self._wait_for_acknowledgement(orders[0].order_id)
        self._telemetry.order_acknowledged((self._clock() - now).total_seconds())
        result = await self._result_for(orders[0].order_id)
        if result.order.status is OrderStatus.REJECTED:
            raise BrokerRejectedError(
                f"IB rejected the order: {result.order.status_reason}",
                metadata={"order_id": result.order.order_id},
            )
        return result

    async def _send_new(self, orders: list[Order]) -> None:
        parent = orders[0]
        sent: list[EventDraft] = []
        for index, order in enumerate(orders):
            parent_id = parent.broker_order_id if order.parent_order_id else 0
            try:
                await self._broker.place(
                    order, parent_broker_order_id=parent_id, transmit=index == len(orders) - 1
                )
            except ConnectionError as error:
                # Nothing of this order reached the socket: that much is certain.
                await self._fail_unsent(orders[index:], str(error))
                break
            sent.append(EventDraft(OrderEventType.SENT, order, self._clock()))
            self._telemetry.order_sent(order.terms.order_type.value, order.terms.side.value)
        if sent:
            await self._repository.record(sent)

    async def _fail_unsent(self, orders: list[Order], reason: str) -> None:
        now = self._clock()
        drafts = [
            EventDraft(
                OrderEventType.STATUS_CHANGED,
                replace(
                    order,
                    status=OrderStatus.REJECTED,
                    status_reason=f"not sent to IB: {reason}",
                    update_time=now,
                ),
                now,
                detail="the gateway connection was lost before the order was written",
            )
            for order in orders
        ]
        await self._repository.record(drafts)

    async def _replay(
        self, existing: IdempotencyRecord, fingerprint: str, caller: Caller
    ) -> PlaceResult:
        original = await self._repository.get(existing.order_id)
        mine = caller.role >= Role.ADMIN or original.placed_by in {caller.subject, ""}
        if existing.request_fingerprint != fingerprint or not mine:
            message = (
                f"client_order_id {existing.client_order_id!r} was used with a different request"
            )
            raise DuplicateClientOrderIdError(message, metadata={"order_id": existing.order_id})
        return await self._result_for(existing.order_id)

    async def _result_for(self, order_id: str) -> PlaceResult:
        order = await self._repository.get(order_id)
        children = [await self._repository.get(child) for child in order.child_order_ids]
        return PlaceResult(order, tuple(children))

    async def _wait_for_acknowledgement(self, order_id: str) -> None:
        """Wait, boundedly, until IB has said something about the order."""

        async def acknowledged() -> bool:
            order = await self._repository.get(order_id)
            return order.status is not OrderStatus.PENDING_SUBMIT or bool(order.status_reason)

        try:
            async with asyncio.timeout(self._acknowledgement_timeout):
                async with self._changed:
                    while not await acknowledged():
                        await self._changed.wait()
        except TimeoutError:
            _log.warning("order not acknowledged in time", order_id=order_id)

    def _require_ready(self) -> None:
        if not self._broker.is_ready():
            state = self._broker.state().state.value
            raise GatewayUnavailableError(
                f"the IB Gateway session is {state}, not READY",
                metadata={"state": state},
                retry_after=timedelta(seconds=2),
            )

    def _resolve_account(self, account: str) -> str:
        accounts = self._broker.managed_accounts()
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

    # ---- modifying and cancelling ----------------------------------------------------------

    async def modify(self, changes: OrderChanges, caller: Caller = SYSTEM) -> Order:
        structlog.contextvars.bind_contextvars(order_id=changes.order_id)
        self._require_ready()
        async with self._mutation_lock:
            order = await self._repository.get(changes.order_id)
            _require_owner(order, caller, "modify")
            if order.status.is_final or order.status is OrderStatus.PENDING_CANCEL:
                raise _not_modifiable(order, "modified")
            terms: OrderTerms = changed_terms(order, changes)
            updated = replace(order, terms=terms, update_time=self._clock())
            await self._repository.record(
                [EventDraft(OrderEventType.MODIFY_REQUESTED, updated, updated.update_time)]
            )
            parent_id = 0
            if order.parent_order_id:
                parent_id = (await self._repository.get(order.parent_order_id)).broker_order_id
            await self._broker.place(updated, parent_broker_order_id=parent_id, transmit=True)
        await self._wait_for_change(updated)
        return await self._repository.get(order.order_id)

    async def cancel(self, order_id: str, caller: Caller = SYSTEM) -> Order:
        structlog.contextvars.bind_contextvars(order_id=order_id)
        self._require_ready()
        async with self._mutation_lock:
            order = await self._repository.get(order_id)
            _require_owner(order, caller, "cancel")
            if order.status.is_final:
                raise _not_modifiable(order, "cancelled")
            pending = replace(order, status=OrderStatus.PENDING_CANCEL, update_time=self._clock())
            await self._repository.record(
                [EventDraft(OrderEventType.CANCEL_REQUESTED, pending, pending.update_time)]
            )
            await self._broker.cancel(order.broker_order_id)
        await self._wait_for_change(pending)
        return await self._repository.get(order_id)

    async def cancel_all(self, account: str = "") -> list[Order]:
        self._require_ready()
        cancelled: list[Order] = []
        for order in await self._repository.working_orders(account):
            if order.status is OrderStatus.PENDING_CANCEL:
                cancelled.append(order)
                continue
            if order.bracket_role in {BracketRole.TAKE_PROFIT, BracketRole.STOP_LOSS} and any(
                other.order_id == order.parent_order_id for other in cancelled
            ):
                # IB cancels a bracket's legs with their parent.
                cancelled.append(await self._repository.get(order.order_id))
                continue
            try:
                cancelled.append(await self.cancel(order.order_id))
            except OrderNotModifiableError:
                cancelled.append(await self._repository.get(order.order_id))
        return cancelled

    async def _wait_for_change(self, expected: Order) -> None:
        try:
            async with asyncio.timeout(self._acknowledgement_timeout):
                async with self._changed:
                    while (
                        await self._repository.get(expected.order_id)
                    ).update_time == expected.update_time:
                        await self._changed.wait()
        except TimeoutError:
            _log.info("no broker answer yet", order_id=expected.order_id)

    # ---- broker reports ------------------------------------------------------------------

    async def _consume_reports(self) -> None:
        while True:
            report = await self._reports.get()
            try:
                async with self._mutation_lock:
                    await self._apply(report)
            except Exception:  # noqa: BLE001  one bad report must not stop every later one
                _log.exception("could not apply a broker report", report=repr(report))
            finally:
                self._reports.task_done()
            async with self._changed:
                self._changed.notify_all()

    async def _apply(self, report: Report) -> None:
        if isinstance(report, BrokerOrderStatus):
            await self._apply_status(report, OrderEventType.STATUS_CHANGED)
        elif isinstance(report, BrokerExecution):
            await self._apply_execution(report)
        elif isinstance(report, BrokerCommission):
            await self._apply_commission(report)
        else:
            await self._apply_message(report)

    async def _find(self, *, perm_id: int, broker_order_id: int, order_ref: str) -> Order | None:
        if order_ref.startswith("ord_"):
            try:
                return await self._repository.get(order_ref)
            except OrderNotFoundError:  # an orderRef another client set: fall back to ids
                _log.debug("unknown order reference", order_ref=order_ref)
        return await self._repository.find_by_broker_ids(
            perm_id=perm_id, broker_order_id=broker_order_id
        )

    async def _apply_status(self, report: BrokerOrderStatus, event_type: OrderEventType) -> None:
        order = await self._find(
            perm_id=report.perm_id,
            broker_order_id=report.broker_order_id,
            order_ref=report.order_ref,
        )
        if order is None:
            return
        updated = transitions.apply_status(order, report, self._clock())
        newly_rejected = updated is not None and updated.status is OrderStatus.REJECTED
        if newly_rejected and order.status is not OrderStatus.REJECTED:
            self._rejected_by_broker()
        if updated is not None:
            await self._repository.record(
                [EventDraft(event_type, updated, updated.update_time, detail=report.reason)]
            )

    async def _apply_execution(self, report: BrokerExecution) -> None:
        order = await self._find(
            perm_id=report.perm_id,
            broker_order_id=report.broker_order_id,
            order_ref=report.order_ref,
        )
        if order is None:
            _log.info("execution of an order placed elsewhere", execution_id=report.execution_id)
            return
        updated, fill = transitions.apply_execution(order, report, self._clock())
        pending = self._pending_commissions.pop(fill.execution_id, None)
        if pending is not None:
            fill = transitions.apply_commission(fill, pending)
        if fill.commission is not None:
            updated = transitions.add_commission(updated, None, fill, updated.update_time)
        recorded = await self._repository.record(
            [EventDraft(OrderEventType.FILL, updated, updated.update_time, fill=fill)]
        )
        if recorded:
            self._telemetry.fill_recorded(fill.side.value)

    async def _apply_commission(self, report: BrokerCommission) -> None:
        fill = await self._repository.get_fill(report.execution_id)
        if fill is None:
            self._pending_commissions[report.execution_id] = report
            return
        updated_fill = transitions.apply_commission(fill, report)
        if updated_fill == fill or not fill.order_id:
            return
        order = await self._repository.get(fill.order_id)
        now = self._clock()
        order = transitions.add_commission(order, fill.commission, updated_fill, now)
        await self._repository.record(
            [EventDraft(OrderEventType.COMMISSION_REPORTED, order, now, fill=updated_fill)]
        )

    async def _apply_message(self, report: BrokerOrderMessage) -> None:
        order = await self._repository.find_by_broker_ids(broker_order_id=report.broker_order_id)
        if order is None:
            return
        now = self._clock()
        detail = f"IB {report.code}: {report.message}"
        _log.info("IB message about an order", order_id=order.order_id, ib_error_code=report.code)
        if report.rejects_order and not order.status.is_final:
            self._rejected_by_broker()
            rejected = replace(
                order, status=OrderStatus.REJECTED, status_reason=report.message, update_time=now
            )
            await self._repository.record(
                [EventDraft(OrderEventType.STATUS_CHANGED, rejected, now, detail=detail)]
            )
        else:
            await self._repository.record(
                [EventDraft(OrderEventType.BROKER_MESSAGE, order, now, detail=detail)]
            )

    def _rejected_by_broker(self) -> None:
        self._telemetry.order_refused("IB_ORDER_REJECTED")
        if self._trading is not None:
            self._trading.record_rejection()

    # ---- reconciliation ------------------------------------------------------------------

    async def reconcile(self, snapshot: BrokerSnapshot) -> None:
        """Settle every stored working order, and record every fill, from IB's own records."""
        await self.settled()
        async with self._mutation_lock:
            for execution in snapshot.executions:
                await self._apply_execution(execution)
                if execution.commission is not None:
                    await self._apply_commission(
                        BrokerCommission(
                            execution.execution_id,
                            execution.commission,
                            execution.commission_currency,
                            execution.realized_pnl,
                        )
                    )
            for status in snapshot.orders:
                await self._apply_status(status, OrderEventType.RECONCILED)
            await self._mark_unknown(snapshot)
        async with self._changed:
            self._changed.notify_all()

    async def _mark_unknown(self, snapshot: BrokerSnapshot) -> None:
        known_refs = {status.order_ref for status in snapshot.orders}
        known_perm_ids = {status.perm_id for status in snapshot.orders if status.perm_id}
        for order in await self._repository.working_orders():
            if order.order_id in known_refs or order.perm_id in known_perm_ids:
                continue
            reason = "IB has no record of this order after reconnecting; its outcome is unknown"
            if order.status_reason != reason:
                now = self._clock()
                flagged = replace(order, status_reason=reason, update_time=now)
                await self._repository.record(
                    [EventDraft(OrderEventType.RECONCILED, flagged, now, detail=reason)]
                )


def _require_owner(order: Order, caller: Caller, verb: str) -> None:
    if not caller.may_change_order(account=order.account, placed_by=order.placed_by):
        raise PermissionDeniedError(
            f"{caller.subject} may not {verb} order {order.order_id}: traders change only their own orders",
            metadata={"order_id": order.order_id},
        )


def _not_modifiable(order: Order, verb: str) -> OrderNotModifiableError:
    return OrderNotModifiableError(
        f"order {order.order_id} is {order.status.value} and cannot be {verb}",
        metadata={"order_id": order.order_id, "status": order.status.value},
    )


def _log_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("order report consumer failed", exc_info=task.exception())
