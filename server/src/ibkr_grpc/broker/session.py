"""The one session with IB Gateway: connect, reconcile, serve, and reconnect with backoff.

States: DISCONNECTED -> CONNECTING -> SYNCING (reconciling with IB's records) -> READY. The
session is READY only after the services' reconciler has settled every order and fill from
IB's own records, so no command is served against a stale picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from ib_async import IB, Contract, Trade
from ib_async.objects import CommissionReport, Fill
from ib_async.wrapper import RequestError

from ibkr_grpc.broker import account_funds, error_codes, translation
from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.snapshots import snapshot_ticker
from ibkr_grpc.domain.broker_reports import (
    BrokerOrderMessage,
    BrokerSnapshot,
    GatewayState,
    OrderMessageKind,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.domain.errors import (
    BrokerTimeoutError,
    InvalidContractError,
    OrderNotModifiableError,
)
from ibkr_grpc.domain.orders import ArrivalQuote, Order, OrderPreview
from ibkr_grpc.services.ports import BrokerListener, Reconciler

_log = structlog.get_logger("ibkr_grpc.broker")

StateListener = Callable[[GatewayState], None]


@dataclass(frozen=True, slots=True)
class SessionSettings:
    host: str
    port: int
    client_id: int
    request_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect_initial_delay: float = 0.5
    reconnect_max_delay: float = 30.0
    arrival_quote_timeout: float = 1.0
    # How long the session may be quiet before it asks the gateway the time to see it answers.
    watchdog_interval: float = 30.0


class GatewaySession:
    """Owns the ib_async client and its connection task. start/stop are idempotent."""

    def __init__(
        self,
        settings: SessionSettings,
        *,
        clock: Callable[[], datetime],
        limiter: RequestLimiter | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.limiter = limiter or RequestLimiter()
        self._ib = IB()
        # Defensive ib_async defaults: fail a request loudly and never wait forever.
        self._ib.RequestTimeout = settings.request_timeout
        self._ib.RaiseRequestErrors = True
        self._listener: BrokerListener | None = None
        self._reconciler: Reconciler | None = None
        self._after_ready: list[Callable[[], Awaitable[None]]] = []
        self._state_listeners: list[StateListener] = []
        self._error_listeners: list[Callable[[int], None]] = []
        self._state = GatewayState(
            ConnectionState.DISCONNECTED,
            settings.host,
            settings.port,
            settings.client_id,
            state_change_time=clock(),
        )
        self._disconnected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Set while ib_async changes a trade's status on its own (placeOrder, cancelOrder): a
        # status it sets locally is not IB's word and is not reported.
        self._changing_locally = False
        # IB's own connectivity (1100 until 1101/1102), and the reconciliation that follows it.
        self._connectivity_lost = False
        self._restoring: asyncio.Task[None] | None = None
        self._wire_events()

    # ---- wiring --------------------------------------------------------------------------

    def attach(self, listener: BrokerListener, reconciler: Reconciler) -> None:
        self._listener = listener
        self._reconciler = reconciler

    def add_state_listener(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        self._state_listeners.remove(listener)

    def add_error_listener(self, listener: Callable[[int], None]) -> None:
        """Called with the code of every error or notice IB sends."""
        self._error_listeners.append(listener)

    def after_ready(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` after every reconciliation, before READY (to resubscribe data)."""
        self._after_ready.append(callback)

    def _wire_events(self) -> None:
        self._ib.orderStatusEvent += self._on_order_status
        self._ib.openOrderEvent += self._on_open_order
        self._ib.execDetailsEvent += self._on_execution
        self._ib.commissionReportEvent += self._on_commission
        self._ib.errorEvent += self._on_error
        self._ib.disconnectedEvent += self._on_disconnected

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-session")
            self._task.add_done_callback(_log_task_end)

    async def stop(self) -> None:
        task, self._task = self._task, None
        restoring, self._restoring = self._restoring, None
        for owned in (task, restoring):
            if owned is not None:
                owned.cancel()
                await asyncio.gather(owned, return_exceptions=True)
        if self._ib.isConnected():
            self._ib.disconnect()
        self._set_state(ConnectionState.DISCONNECTED)

    async def _run(self) -> None:
        """Connect, reconcile, serve; on any failure (the connection, IB, the database during
        reconciliation, a resubscription) disconnect and start again with backoff: the session
        never stays SYNCING, and the task ends only when stopped."""
        attempt = 0
        while True:
            self._set_state(ConnectionState.CONNECTING)
            try:
                await self._connect_and_sync()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001  whatever failed, the answer is a reconnect
                attempt += 1
                expected = isinstance(
                    error, ConnectionError | OSError | TimeoutError | RequestError
                )
                _log.log(
                    logging.WARNING if expected else logging.ERROR,
                    "connecting or reconciling failed; reconnecting",
                    error=str(error),
                    exc_info=None if expected else error,
                )
                self._record_error(0, f"connect failed: {error}")
                if self._ib.isConnected():
                    self._ib.disconnect()
                self._set_state(ConnectionState.DISCONNECTED, reconnect_attempts=attempt)
                await asyncio.sleep(self._backoff(attempt))
                continue
            attempt = 0
            await self._serve_until_disconnected()
            self._set_state(ConnectionState.DISCONNECTED, reconnect_attempts=1)
            await asyncio.sleep(self._backoff(1))
            attempt = 1

    async def _serve_until_disconnected(self) -> None:
        """Wait for the connection to drop, probing a quiet gateway now and then: a socket can
        stay open to a gateway that no longer answers (hung, or its host asleep)."""
        interval = self._settings.watchdog_interval
        while not self._disconnected.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._disconnected.wait()
            if not self._disconnected.is_set() and not await self._gateway_answers():
                self._ib.disconnect()
                return

    async def _gateway_answers(self) -> bool:
        try:
            async with asyncio.timeout(self._settings.request_timeout):
                await self._ib.reqCurrentTimeAsync()
        except (TimeoutError, ConnectionError, RequestError) as error:
            _log.warning("the gateway does not answer; reconnecting", error=str(error))
            self._record_error(0, f"the gateway did not answer a probe: {error}")
            return False
        return True

    def _backoff(self, attempt: int) -> float:
        ceiling = min(
            self._settings.reconnect_max_delay,
            self._settings.reconnect_initial_delay * 2 ** (attempt - 1),
        )
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311  jitter, not cryptography
        return float(ceiling) * jitter

    async def _connect_and_sync(self) -> None:
        self._disconnected.clear()
        self._connectivity_lost = False
        await self._ib.connectAsync(
            self._settings.host,
            self._settings.port,
            clientId=self._settings.client_id,
            timeout=self._settings.connect_timeout,
            raiseSyncErrors=True,
        )
        accounts = tuple(self._ib.managedAccounts())
        self._set_state(
            ConnectionState.SYNCING,
            server_version=self._ib.client.serverVersion(),
            managed_accounts=accounts,
        )
        await self._request_all_open_orders()
        if self._reconciler is not None:
            await self._reconciler(self._snapshot())
        for callback in self._after_ready:
            await callback()
        if not self._ib.isConnected():
            message = "the connection dropped while reconciling"
            raise ConnectionError(message)
        now = self._clock()
        self._set_state(ConnectionState.READY, ready_since=now, reconnect_attempts=0)

    async def _request_all_open_orders(self) -> None:
        """Open orders of every API client and of TWS (IB's reqAllOpenOrders; it binds none of
        them), so reconciliation also sees orders placed outside this server. ib_async's own
        start-up sync asks only for this client id's (reqOpenOrders)."""
        await self.limiter.acquire("open_orders")
        async with asyncio.timeout(self._settings.request_timeout):
            await self._ib.reqAllOpenOrdersAsync()

    def _snapshot(self) -> BrokerSnapshot:
        trades = self._ib.trades()
        by_order_id = {trade.order.orderId: trade for trade in trades}
        statuses = [report for trade in trades if (report := translation.status_report(trade))]
        client_id = self._settings.client_id
        open_orders = [translation.open_order_report(trade, client_id) for trade in trades]
        executions = [
            translation.execution_report(by_order_id.get(fill.execution.orderId), fill)
            for fill in self._ib.fills()
            if not translation.is_combination(fill.contract)
        ]
        return BrokerSnapshot(
            orders=statuses,
            open_orders=open_orders,
            executions=executions,
            managed_accounts=list(self._ib.managedAccounts()),
        )

    # ---- state ---------------------------------------------------------------------------

    def state(self) -> GatewayState:
        return self._state

    def is_ready(self) -> bool:
        return self._state.state is ConnectionState.READY

    def managed_accounts(self) -> tuple[str, ...]:
        return self._state.managed_accounts

    def _set_state(self, state: ConnectionState, **changes: object) -> None:
        previous = self._state
        changed_state = state is not previous.state
        updated = replace(previous, state=state, **changes)  # type: ignore[arg-type]
        if changed_state:
            updated = replace(updated, state_change_time=self._clock())
        if state is ConnectionState.DISCONNECTED:
            updated = replace(updated, server_version=0)
        if updated == previous:
            return
        self._state = updated
        if changed_state:
            _log.info("gateway session state", state=state.value, last_error=updated.last_error)
        for listener in tuple(self._state_listeners):
            listener(updated)

    def _record_error(self, code: int, message: str) -> None:
        self._state = replace(self._state, last_error=message, last_error_code=code)

    # ---- ib_async events -----------------------------------------------------------------

    def _on_order_status(self, trade: Trade) -> None:
        if self._changing_locally:
            return
        report = translation.status_report(trade)
        if report is not None and self._listener is not None:
            self._listener.order_status(report)

    def _on_open_order(self, trade: Trade) -> None:
        if self._listener is not None:
            report = translation.open_order_report(trade, self._settings.client_id)
            self._listener.open_order(report)

    def _on_execution(self, trade: Trade, fill: Fill) -> None:
        # A combination's own execution (the BAG at the net price) repeats what its legs'
        # executions and the order's status already say: the legs are the fills.
        if self._listener is not None and not translation.is_combination(fill.contract):
            self._listener.execution(translation.execution_report(trade, fill))

    def _on_commission(self, _trade: Trade, fill: Fill, report: CommissionReport) -> None:
        if self._listener is not None and not translation.is_combination(fill.contract):
            self._listener.commission(translation.commission_report(report))

    def _on_error(
        self, request_id: int, code: int, message: str, _contract: Contract | None
    ) -> None:
        for listener in tuple(self._error_listeners):
            listener(code)
        if code in error_codes.CONNECTIVITY_CODES:
            self._connectivity_notice(code, message)
            return
        if code in error_codes.FARM_NOTICES:
            _log.info("gateway notice", ib_error_code=code, message=message)
            return
        if request_id <= 0 or self._listener is None:
            return
        trade = self._ib.wrapper.trades.get((self._settings.client_id, request_id))
        if trade is None and code not in error_codes.ORDER_CODES:
            return  # about a data request, not an order
        kind = error_codes.order_message_kind(code)
        if trade is not None:
            _undo_cancel_on_error(trade, kind)
        if kind in {OrderMessageKind.UNKNOWN, OrderMessageKind.REJECTION}:
            _log.warning("IB error about an order", ib_error_code=code, message=message)
        elif code != error_codes.ORDER_CANCELLED_CODE:
            _log.info("IB notice about an order", ib_error_code=code, message=message)
        self._listener.order_message(BrokerOrderMessage(request_id, code, message, kind))

    def _connectivity_notice(self, code: int, message: str) -> None:
        """IB's link to the gateway (not ours to the gateway) broke, or came back. While it is
        down the socket stays open and IB keeps working resting orders; their reports arrive
        after it returns (IB's notes on 1100-1102,
        https://interactivebrokers.github.io/tws-api/message_codes.html). Orders are refused
        meanwhile; at 1102 the session reconciles, at 1101 it also reopens every subscription."""
        self._record_error(code, message)
        if code == error_codes.CONNECTIVITY_LOST:
            _log.warning("IB's connection to the gateway is lost", ib_error_code=code)
            self._connectivity_lost = True
            self._set_state(ConnectionState.DISCONNECTED)
            return
        data_lost = code == error_codes.RESTORED_DATA_LOST
        if not self._connectivity_lost and not data_lost:
            return
        _log.warning("IB's connection to the gateway is back", ib_error_code=code)
        if self._restoring is None or self._restoring.done():
            self._restoring = asyncio.get_running_loop().create_task(
                self._restore(data_lost=data_lost), name="gateway-restore"
            )
            self._restoring.add_done_callback(_log_task_end)

    async def _restore(self, *, data_lost: bool) -> None:
        self._set_state(ConnectionState.SYNCING)
        try:
            if self._reconciler is not None:
                await self._reconciler(self._snapshot())
            if data_lost:
                for callback in self._after_ready:
                    await callback()
        except Exception as error:  # noqa: BLE001  a full reconnect settles what this could not
            _log.warning("reconciling after IB came back failed; reconnecting", error=str(error))
            self._ib.disconnect()
            return
        self._connectivity_lost = False
        self._set_state(ConnectionState.READY, ready_since=self._clock())

    def _on_disconnected(self) -> None:
        self._disconnected.set()

    # ---- BrokerPort ----------------------------------------------------------------------

    def reserve_order_ids(self, count: int, floor: int) -> list[int]:
        # Order ids and ib_async's request ids come from one counter so they never collide,
        # and never at or below an id the database already holds (nextValidId can roll back
        # after a gateway restart).
        if not self._ib.isConnected():
            message = "not connected to IB Gateway"
            raise ConnectionError(message)
        self._ib.client.updateReqId(floor + 1)  # type: ignore[no-untyped-call]
        return [self._ib.client.getReqId() for _ in range(count)]

    async def place(self, order: Order, *, parent_broker_order_id: int, transmit: bool) -> None:
        await self.limiter.acquire("place_order")
        if not self._ib.isConnected():
            message = "not connected to IB Gateway"
            raise ConnectionError(message)
        trade = self._ib.wrapper.trades.get((self._settings.client_id, order.broker_order_id))
        if trade is not None and trade.isDone():
            # ib_async refuses to modify a trade IB reported finished (an assert in placeOrder).
            raise OrderNotModifiableError(
                f"IB reports order {order.order_id} as {trade.orderStatus.status}",
                metadata={"order_id": order.order_id, "status": trade.orderStatus.status},
            )
        ib_order = translation.ib_order(
            order, parent_broker_order_id=parent_broker_order_id, transmit=transmit
        )
        self._changing_locally = True
        try:
            self._ib.placeOrder(translation.order_contract(order), ib_order)
        finally:
            self._changing_locally = False

    async def cancel(self, broker_order_id: int) -> None:
        await self.limiter.acquire("cancel_order")
        if not self._ib.isConnected():
            message = "not connected to IB Gateway"
            raise ConnectionError(message)
        trade = self._ib.wrapper.trades.get((self._settings.client_id, broker_order_id))
        self._changing_locally = True
        try:
            if trade is not None:
                self._ib.cancelOrder(trade.order)
            else:
                self._ib.client.cancelOrder(broker_order_id, "")  # type: ignore[no-untyped-call]
        finally:
            self._changing_locally = False

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        await self.limiter.acquire("contract_details")
        try:
            # ib_async's *Async requests ignore its RequestTimeout: bound them here.
            async with asyncio.timeout(self._settings.request_timeout):
                details = await self._ib.reqContractDetailsAsync(translation.ib_contract(contract))
        except RequestError as error:
            raise InvalidContractError(
                f"IB knows no contract {contract.display_name}: {error.message}",
                metadata={"ib_error_code": str(error.code), "symbol": contract.symbol},
            ) from error
        except TimeoutError as error:
            message = "IB did not answer the contract lookup in time"
            raise BrokerTimeoutError(message) from error
        if not details:
            raise InvalidContractError(
                f"IB knows no contract {contract.display_name}",
                metadata={"symbol": contract.symbol},
            )
        if len(details) > 1:
            choices = ", ".join(
                f"{d.contract.primaryExchange or d.contract.exchange} (con_id {d.contract.conId})"
                for d in details[:5]
                if d.contract is not None
            )
            raise InvalidContractError(
                f"{contract.display_name} is ambiguous: {choices}; give con_id or primary_exchange",
                metadata={"symbol": contract.symbol},
            )
        found = details[0].contract
        if found is None:
            raise InvalidContractError(f"IB knows no contract {contract.display_name}")
        return replace(translation.contract_spec(found), exchange=contract.exchange)

    async def arrival_quote(self, contract: ContractSpec) -> ArrivalQuote | None:
        """The market now, from a snapshot taken as soon as bid and ask arrive; None when IB
        has none quickly (an order goes ahead without an arrival quote)."""
        await self.limiter.acquire("snapshot")
        if not self._ib.isConnected():
            message = "not connected to IB Gateway"
            raise ConnectionError(message)
        try:
            ticker = await snapshot_ticker(
                self._ib,
                translation.ib_contract(contract),
                within=self._settings.arrival_quote_timeout,
                settle=0,
            )
        except (TimeoutError, RequestError):
            return None
        bid = translation.decimal_of(ticker.bid)
        ask = translation.decimal_of(ticker.ask)
        last = translation.decimal_of(ticker.last)
        if bid is None and ask is None and last is None:
            return None
        return ArrivalQuote(bid, ask, last, self._clock())

    async def preview(self, order: Order) -> OrderPreview:
        ib_order = translation.ib_order(order, parent_broker_order_id=0, transmit=True)
        ib_order.orderId = 0
        notional = None
        price = order.terms.limit_price or order.terms.stop_price
        if price is not None:
            notional = price * order.terms.quantity
        await self.limiter.acquire("what_if")
        try:
            async with asyncio.timeout(self._settings.request_timeout):
                state = await self._ib.whatIfOrderAsync(translation.order_contract(order), ib_order)
        except (TimeoutError, RequestError) as error:
            return OrderPreview(
                notional, order.contract.currency, warnings=(f"no what-if from IB: {error}",)
            )
        return OrderPreview(
            notional=notional,
            currency=state.commissionCurrency or order.contract.currency,
            initial_margin_change=translation.decimal_of(state.initMarginChange or None),
            maintenance_margin_change=translation.decimal_of(state.maintMarginChange or None),
            equity_with_loan_after=translation.decimal_of(state.equityWithLoanAfter or None),
            commission_minimum=translation.decimal_of(state.minCommission),
            commission_maximum=translation.decimal_of(state.maxCommission),
            warnings=(state.warningText,) if state.warningText else (),
        )

    def available_funds(self, account: str) -> Decimal | None:
        return account_funds.available_funds(self._ib.accountValues(account))

    @property
    def ib(self) -> IB:
        """The ib_async client, for the broker adapter's other modules (market data, portfolio)."""
        return self._ib


def _undo_cancel_on_error(trade: Trade, kind: OrderMessageKind) -> None:
    """ib_async marks a trade Cancelled on any error that is not a warning. Where IB did not
    cancel (a refused modify or cancel, a code we do not know, a refusal of a modification of a
    working order) put back the status IB last reported, so ib_async goes on treating the
    order as live: otherwise it would refuse to modify it (an assert) and drop it from
    openTrades()."""
    if not translation.set_by_error(trade) or kind is OrderMessageKind.CANCELLATION:
        return
    previous = [entry.status for entry in trade.log[:-1] if entry.status]
    before = previous[-1] if previous else ""
    acknowledged = before not in {"", "PendingSubmit", "ApiPending"}
    if kind is OrderMessageKind.REJECTION and not acknowledged:
        return  # IB refused a new order: it is dead, as ib_async says
    trade.orderStatus.status = before or "PendingSubmit"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _log_task_end(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if task.exception() is not None:
            _log.error("gateway session task failed", exc_info=task.exception())
