"""Order management: placing, changing and cancelling orders, and keeping their state true to
IB's reports. Every new order is stored, as an order event, before anything is sent to IB; a
modification changes the stored order only when IB confirms it; a refused modify or cancel is an
event on the order, never a change of its status.

One mutation lock serialises every read-modify-write of order state (commands and broker reports
alike), and the risk check runs under it with the record of acceptance, so concurrent commands
cannot pass a limit that sequential ones respect. Broker reports are consumed in arrival order by
one task. Sends run in tasks the manager owns: a caller's deadline cannot split "stored" from
"sent".
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderMessage,
    BrokerOrderStatus,
    BrokerSnapshot,
)
from ibkr_grpc.domain.combinations import combination_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import BracketRole, OrderEventType, OrderStatus
from ibkr_grpc.domain.errors import (
    BrokerRejectedError,
    DuplicateClientOrderIdError,
    FieldViolation,
    GatewayUnavailableError,
    OrderNotModifiableError,
    OrderValidationError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from ibkr_grpc.domain.identity import SYSTEM, Caller, Role
from ibkr_grpc.domain.orders import (
    ArrivalQuote,
    Order,
    OrderIntent,
    OrderPreview,
    OrderTerms,
)
from ibkr_grpc.services import order_transitions as transitions
from ibkr_grpc.services.combination_margin import require_margin_for_combination
from ibkr_grpc.services.command_admission import AdmissionTicket, CommandAdmission
from ibkr_grpc.services.order_changes import OrderChanges, changed_terms
from ibkr_grpc.services.order_commands import PendingCommands
from ibkr_grpc.services.order_preconditions import (
    RETRY_AFTER,
    describe_terms,
    not_modifiable,
    reaching_broker,
    require_modifiable,
    require_owner,
    require_ready,
    resolve_account,
    unavailable,
)
from ibkr_grpc.services.order_report_queue import Report, ReportQueue
from ibkr_grpc.services.order_reports import OrderReports
from ibkr_grpc.services.owned_tasks import OwnedTasks
from ibkr_grpc.services.ports import (
    BrokerPort,
    EventDraft,
    IdempotencyRecord,
    MarketView,
    NoTelemetry,
    OrderRepository,
    Telemetry,
    TradingGuard,
)
from ibkr_grpc.services.risk_engine import RiskEngine
from ibkr_grpc.services.trading_control import TradingControl

_log = structlog.get_logger("ibkr_grpc.orders")

T = TypeVar("T")
# Order commands (new orders, modifications) at most on their way to IB at once: about two
# seconds of the server's rate (bench/order_path.py); past it they are refused with a retry.
DEFAULT_COMMAND_QUEUE_LIMIT = 64


@dataclass(frozen=True, slots=True)
class PreTradeChecks:
    """What every new order and modification passes (cancels pass none of it): the risk
    engine, the halt, and other guards (the paper/live check)."""

    risk: RiskEngine | None = None
    trading: TradingControl | None = None
    guards: Sequence[TradingGuard] = ()


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
        checks: PreTradeChecks | None = None,
        market: MarketView | None = None,
        command_queue_limit: int = DEFAULT_COMMAND_QUEUE_LIMIT,
    ) -> None:
        checks = checks or PreTradeChecks()
        risk, trading = checks.risk, checks.trading
        self._telemetry = telemetry or NoTelemetry()
        self._market = market
        self._risk = risk
        self._trading = trading
        # The halt first, then any other guard (the paper/live check).
        self._guards = (*((trading,) if trading is not None else ()), *checks.guards)
        self._repository = repository
        self._broker = broker
        self._clock = clock
        self._acknowledgement_timeout = acknowledgement_timeout.total_seconds()
        self._mutation_lock = asyncio.Lock()
        self._commands = PendingCommands()
        self._applier = OrderReports(
            repository,
            self._commands,
            clock=clock,
            client_id=lambda: broker.state().client_id,
            on_rejection=self._rejected_by_broker,
        )
        self._queue = ReportQueue(self._apply_report, clock=clock)
        # The highest order id this server has used: read from the store once, then kept here
        # (the manager is the only writer of new orders), so ids are never reused even when the
        # gateway's nextValidId rolls back.
        self._highest_order_id: int | None = None
        self._sends = OwnedTasks("an order command")
        self._admission = CommandAdmission(command_queue_limit)

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._queue.start()

    async def stop(self) -> None:
        """Finish the sends in progress and the reports already received, then stop. Safe to
        call twice."""
        await self._sends.wait()
        await self._queue.stop()

    # ---- broker listener (called synchronously by the broker adapter) -----------------------

    def order_status(self, report: BrokerOrderStatus) -> None:
        self._queue.put(report)

    def execution(self, report: BrokerExecution) -> None:
        self._queue.put(report)

    def commission(self, report: BrokerCommission) -> None:
        self._queue.put(report)

    def order_message(self, report: BrokerOrderMessage) -> None:
        self._queue.put(report)

    def open_order(self, report: BrokerOpenOrder) -> None:
        self._queue.put(report)

    async def settled(self) -> None:
        """Wait until every report received so far is applied (for reconciliation and tests)."""
        await self._queue.settled()

    # ---- placing -------------------------------------------------------------------------

    async def place(self, intent: OrderIntent, caller: Caller = SYSTEM) -> PlaceResult:
        key = intent.client_order_id or f"generated-{uuid.uuid4().hex}"
        fingerprint = transitions.request_fingerprint(intent)
        resend_of = ""
        if not intent.validate_only:
            existing = await self._repository.find_idempotency(key)
            if existing is not None:
                replayed = await self._replay(existing, fingerprint, caller)
                if replayed.order.status is not OrderStatus.NOT_SENT:
                    return replayed
                # IB never received the first attempt: this retry sends the order (once).
                resend_of = existing.order_id
        # A place in the bounded queue of commands on their way to IB, or RATE_LIMIT_EXCEEDED
        # with a retry hint before anything is stored or sent.
        ticket = self._admission.enter()
        try:
            orders, reference, now = await self._build(intent, key, caller)
            if intent.validate_only:
                if self._risk is not None:
                    await self._risk.check(orders, reference_price=reference)
                preview = await reaching_broker(self._broker.preview(orders[0]))
                return PlaceResult(orders[0], tuple(orders[1:]), preview)
            record = IdempotencyRecord(key, fingerprint, orders[0].order_id)
            try:
                ticket.handed_over = True  # the owned task gives the place back once it has sent
                acknowledged = await self._sends.run(
                    _released_after(
                        ticket, self._accept_and_send(orders, record, resend_of, reference, now)
                    )
                )
            except DuplicateClientOrderIdError:
                # Another call with the same key got there first.
                existing = await self._repository.find_idempotency(key)
                if existing is None:
                    raise
                return await self._replay(existing, fingerprint, caller)
        finally:
            if not ticket.handed_over:
                ticket.release()
        answered = await self._answer_within_timeout(acknowledged, orders[0].order_id)
        self._telemetry.order_acknowledged((self._clock() - now).total_seconds())
        # The order as IB's answer left it; a bracket's legs are read with it.
        legs = [await self._repository.get(leg) for leg in answered.child_order_ids]
        result = PlaceResult(answered, tuple(legs))
        if result.order.status is OrderStatus.REJECTED:
            raise BrokerRejectedError(
                f"IB rejected the order: {result.order.status_reason}",
                metadata={"order_id": result.order.order_id},
            )
        if result.order.status is OrderStatus.NOT_SENT:
            # Reconciliation proved, while this call waited, that IB never received it.
            raise GatewayUnavailableError(
                "IB never received the order; retry with the same client_order_id to send it",
                metadata={"order_id": result.order.order_id},
                retry_after=RETRY_AFTER,
            )
        return result

    async def _build(
        self, intent: OrderIntent, key: str, caller: Caller
    ) -> tuple[list[Order], Decimal | None, datetime]:
        """The new orders of `intent` (a bracket's legs after its parent), with the reference
        price of the risk checks and the time they were made: the session ready, the account
        one the caller may use and trading in it allowed, the contract qualified."""
        require_ready(self._broker)
        account = resolve_account(self._broker, intent.account)
        if not caller.may_use_account(account):
            raise PermissionDeniedError(
                f"{caller.subject} may not trade in account {account}",
                metadata={"account": account},
            )
        self._ensure_trading_allowed(account)
        if intent.combo_legs:
            intent, contract = await self._qualify_legs(intent)
            # IB quotes a combination only on a line of its own: no arrival quote is taken.
            quote = None
        else:
            contract = await self._qualify(intent.contract)
            quote = await self._arrival_quote(contract)
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
        structlog.contextvars.bind_contextvars(
            order_id=orders[0].order_id, symbol=contract.symbol, account=account
        )
        return orders, (quote.reference_price if quote else None), now

    async def _accept_and_send(
        self,
        orders: list[Order],
        record: IdempotencyRecord,
        resend_of: str,
        reference: Decimal | None,
        now: datetime,
    ) -> asyncio.Future[Order]:
        """Check risk, store and send, as one unit no caller's cancellation can split."""
        if orders[0].is_combination:
            # The local rules first (a combination they refuse costs IB no what-if), then IB's
            # what-if margin of the whole combination: an IB round trip, so outside the
            # mutation lock, and bounded like the acknowledgement. The rules run again under
            # the lock below, where they decide.
            if self._risk is not None:
                await self._risk.check(
                    orders, reference_price=reference, in_flight=self._commands.modifications()
                )
            await require_margin_for_combination(
                self._broker, orders[0], timeout_seconds=self._acknowledgement_timeout
            )
        async with self._mutation_lock:
            if self._risk is not None:
                await self._risk.check(
                    orders, reference_price=reference, in_flight=self._commands.modifications()
                )
            if self._highest_order_id is None:
                self._highest_order_id = await self._repository.max_broker_order_id()
            try:
                ids = self._broker.reserve_order_ids(len(orders), self._highest_order_id)
            except ConnectionError as error:
                raise unavailable(error) from error
            self._highest_order_id = max(self._highest_order_id, *ids)
            client_id = self._broker.state().client_id
            orders = [
                replace(order, broker_order_id=id_, broker_client_id=client_id)
                for order, id_ in zip(orders, ids, strict=True)
            ]
            await self._repository.create_orders(
                orders, idempotency=record, event_time=now, resend_of=resend_of
            )
            if self._risk is not None:
                self._risk.accepted(orders[0].account)
            acknowledged = self._commands.expect_acknowledgement(orders[0].order_id)
        await self._send_new(orders)
        return acknowledged

    async def _send_new(self, orders: list[Order]) -> None:
        """Send a new order, or a bracket (the parent untransmitted, then its legs, the last one
        transmitting the whole group, so IB receives all of it or works none of it)."""
        parent = orders[0]
        sent: list[EventDraft] = []
        failure: ConnectionError | None = None
        for index, order in enumerate(orders):
            parent_id = parent.broker_order_id if order.parent_order_id else 0
            try:
                await self._broker.place(
                    order, parent_broker_order_id=parent_id, transmit=index == len(orders) - 1
                )
            except ConnectionError as error:
                failure = error
                await self._settle_unsent(orders[index:], str(error))
                break
            sent.append(EventDraft(OrderEventType.SENT, order, self._clock()))
            self._telemetry.order_sent(order.terms.order_type.value, order.terms.side.value)
        if sent:
            try:
                async with self._mutation_lock:
                    await self._repository.record(sent)
            except ServiceUnavailableError:
                # The order is at IB: losing its SENT event must not fail the call (a client
                # told "failed" would give up on a live order). IB's answer is applied when the
                # database is back, and a retry with the same key finds the order.
                _log.warning("the orders were sent but their SENT events were not stored")
        if failure is not None:
            self._commands.forget(parent.order_id)
            raise unavailable(failure)

    async def _settle_unsent(self, orders: list[Order], reason: str) -> None:
        """Nothing of these orders reached the socket: that much is certain."""
        now = self._clock()
        text = f"not sent to IB: {reason}; PlaceOrder with the same client_order_id sends it"
        async with self._mutation_lock:
            drafts = [
                EventDraft(
                    OrderEventType.STATUS_CHANGED,
                    transitions.not_sent(await self._repository.get(order.order_id), text, now),
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

    # ---- modifying and cancelling ----------------------------------------------------------

    async def modify(self, changes: OrderChanges, caller: Caller = SYSTEM) -> Order:
        structlog.contextvars.bind_contextvars(order_id=changes.order_id)
        require_ready(self._broker)
        order = await self._repository.get(changes.order_id)
        require_owner(order, caller, "modify")
        require_modifiable(order)
        self._ensure_trading_allowed(order.account)
        terms = changed_terms(order, changes)
        quote = None
        if order.is_combination:
            await self._require_margin_for_more(order, terms)
        elif self._risk is not None:
            quote = await self._arrival_quote(order.contract)
        reference = quote.reference_price if quote else None
        ticket = self._admission.enter()  # given back by the owned task, once it has sent
        answer = await self._sends.run(
            _released_after(ticket, self._send_modification(order.order_id, terms, reference))
        )
        return await self._answer_within_timeout(answer, order.order_id)

    async def _require_margin_for_more(self, order: Order, terms: OrderTerms) -> None:
        """A combination modified to a larger quantity: the local rules on the order as it
        would stand, then IB's what-if margin of the added units (a combination of the same
        legs and price, for the difference), as a new combination of that size would get.
        IB round trips, so before the mutation lock; the rules run again under it."""
        added = terms.quantity - order.terms.quantity
        if added <= 0:
            return
        updated = replace(order, terms=terms)
        if self._risk is not None:
            await self._risk.check(
                [updated],
                reference_price=None,
                replacing=order,
                in_flight=self._commands.modifications(),
            )
        increment = replace(order, terms=replace(terms, quantity=added))
        await require_margin_for_combination(
            self._broker, increment, timeout_seconds=self._acknowledgement_timeout
        )

    async def _send_modification(
        self, order_id: str, terms: OrderTerms, reference: Decimal | None
    ) -> asyncio.Future[Order]:
        async with self._mutation_lock:
            order = await self._repository.get(order_id)
            require_modifiable(order)
            if self._commands.modifying(order_id) is not None:
                raise OrderNotModifiableError(
                    f"a modification of order {order_id} is awaiting IB's answer; retry after it",
                    metadata={"order_id": order_id, "status": order.status.value},
                    retry_after=timedelta(seconds=1),
                )
            updated = replace(order, terms=terms)
            if self._risk is not None:
                await self._risk.check(
                    [updated],
                    reference_price=reference,
                    replacing=order,
                    in_flight=self._commands.modifications(),
                )
                self._risk.accepted(order.account)
            parent_id = 0
            if order.parent_order_id:
                parent_id = (await self._repository.get(order.parent_order_id)).broker_order_id
            answer = self._commands.expect_modification(order_id, terms)
            # Recorded before the write, so IB's answer always follows it in the log; the
            # order as it stands: its terms change only when IB confirms them.
            await self._repository.record(
                [
                    EventDraft(
                        OrderEventType.MODIFY_REQUESTED,
                        order,
                        self._clock(),
                        detail=f"requested: {describe_terms(terms)}",
                    )
                ]
            )
        try:
            await self._broker.place(updated, parent_broker_order_id=parent_id, transmit=True)
        except (ConnectionError, OrderNotModifiableError) as error:
            await self._not_written(order_id, "modification", error)
            if isinstance(error, ConnectionError):
                raise unavailable(error) from error
            raise
        return answer

    async def _not_written(self, order_id: str, command: str, error: Exception) -> None:
        """A requested command that never reached IB: said so in the log, and forgotten."""
        async with self._mutation_lock:
            current = await self._repository.get(order_id)
            detail = f"the {command} was not sent to IB: {error}"
            await self._repository.record(
                [EventDraft(OrderEventType.COMMAND_REFUSED, current, self._clock(), detail=detail)]
            )
        if command == "cancel":
            self._commands.cancel_acknowledged(current)
        else:
            self._commands.modification_confirmed(current)

    async def cancel(self, order_id: str, caller: Caller = SYSTEM) -> Order:
        structlog.contextvars.bind_contextvars(order_id=order_id)
        answer = await self._sends.run(self._send_cancel(order_id, caller))
        return await self._answer_within_timeout(answer, order_id)

    async def _send_cancel(self, order_id: str, caller: Caller) -> asyncio.Future[Order]:
        require_ready(self._broker)
        order = await self._repository.get(order_id)
        require_owner(order, caller, "cancel")
        if order.status.is_final:
            raise not_modifiable(order, "cancelled")
        async with self._mutation_lock:
            answer = self._commands.expect_cancel(order_id)
            current = await self._repository.get(order_id)
            await self._repository.record(
                [EventDraft(OrderEventType.CANCEL_REQUESTED, current, self._clock())]
            )
        try:
            await self._broker.cancel(order.broker_order_id)
        except ConnectionError as error:
            await self._not_written(order_id, "cancel", error)
            raise unavailable(error) from error
        return answer

    async def cancel_all(self, account: str = "") -> list[Order]:
        """Ask IB to cancel every working order (of one account), then wait, boundedly, for
        IB's answers all together. Orders IB refused to cancel are returned as they stand."""
        require_ready(self._broker)
        working = await self._repository.working_orders(account)
        parents = {order.order_id for order in working}
        answers: list[tuple[Order, asyncio.Future[Order] | None]] = []
        for order in working:
            if order.bracket_role is not BracketRole.NONE and order.parent_order_id in parents:
                answers.append((order, None))  # IB cancels a bracket's legs with their parent
                continue
            try:
                answers.append(
                    (order, await self._sends.run(self._send_cancel(order.order_id, SYSTEM)))
                )
            except OrderNotModifiableError:
                answers.append((order, None))
        futures = [answer for _, answer in answers if answer is not None]
        if futures:
            await asyncio.wait(futures, timeout=self._acknowledgement_timeout)
        return [await self._repository.get(order.order_id) for order, _ in answers]

    async def _answer_within_timeout(self, answer: asyncio.Future[Order], order_id: str) -> Order:
        """IB's answer to a command, or after the bounded wait the order as IB last reported
        it. A refusal raises its CommandRefusedError."""
        try:
            async with asyncio.timeout(self._acknowledgement_timeout):
                return await asyncio.shield(answer)
        except TimeoutError:
            _log.info("no answer from IB yet", order_id=order_id)
        return await self._repository.get(order_id)

    # ---- the market ---------------------------------------------------------------------

    async def _qualify_legs(self, intent: OrderIntent) -> tuple[OrderIntent, ContractSpec]:
        """Each leg's contract as IB describes it (by its conId), and the combination named
        after them."""
        legs = tuple(
            [replace(leg, contract=await self._qualify(leg.contract)) for leg in intent.combo_legs]
        )
        currencies = {leg.contract.currency for leg in legs}
        if len(currencies) != 1:
            raise OrderValidationError([FieldViolation("legs", "the legs trade in one currency")])
        return replace(intent, combo_legs=legs), combination_contract(legs)

    async def _qualify(self, contract: ContractSpec) -> ContractSpec:
        if self._market is not None:
            return await reaching_broker(self._market.qualify(contract))
        return await reaching_broker(self._broker.qualify(contract))

    async def _arrival_quote(self, contract: ContractSpec) -> ArrivalQuote | None:
        """The quote of a line already held for the contract, else a snapshot from IB."""
        held = self._market.held_quote(contract) if self._market is not None else None
        if held is not None:
            return ArrivalQuote(held.bid, held.ask, held.last, held.receive_time)
        return await reaching_broker(self._broker.arrival_quote(contract))

    # ---- gates ---------------------------------------------------------------------------

    def _ensure_trading_allowed(self, account: str) -> None:
        for guard in self._guards:
            guard.ensure_trading_allowed(account)

    # ---- broker reports ------------------------------------------------------------------

    async def _apply_report(self, report: Report) -> None:
        async with self._mutation_lock:
            await self._applier.apply(report)

    def _rejected_by_broker(self) -> None:
        self._telemetry.order_refused("IB_ORDER_REJECTED")
        if self._trading is not None:
            self._trading.record_rejection()

    # ---- reconciliation ------------------------------------------------------------------

    async def reconcile(self, snapshot: BrokerSnapshot) -> None:
        """Settle every stored working order, and record every fill, from IB's own records."""
        await self.settled()
        async with self._mutation_lock:
            await self._applier.reconcile(snapshot)
        # The answers IB sent before the connection dropped are lost: every command still
        # waiting gets the order as reconciliation left it.
        for order_id in self._commands.pending_order_ids():
            self._commands.finished(await self._repository.get(order_id))


async def _released_after(ticket: AdmissionTicket, work: Coroutine[Any, Any, T]) -> T:
    """Run `work`, then give its place in the command queue back."""
    try:
        return await work
    finally:
        ticket.release()
