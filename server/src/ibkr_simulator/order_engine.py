"""The order engine: validation, brackets and OCA groups, state transitions and fills.

Orders live here, not in a connection, so they survive a client disconnect and keep their
permId, as on a real gateway. Every change is reported at once through the event sink.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

from ibkr_simulator import codes, oca
from ibkr_simulator.account import AccountBook
from ibkr_simulator.clock import Clock, format_ib_datetime
from ibkr_simulator.combo_orders import ComboMatcher, validate_combo_terms
from ibkr_simulator.combos import BAG, Combo, ComboError, resolve_combo
from ibkr_simulator.config import FillPolicy
from ibkr_simulator.contracts import ContractSpec, ContractUniverse
from ibkr_simulator.executions import commission_of_execution, execution_report
from ibkr_simulator.liquidity import BookLevel, LiquidityBook, plan_executions
from ibkr_simulator.matching import (
    check_trigger,
    effective_limit,
    is_active,
    is_stop_type,
    update_trail,
)
from ibkr_simulator.order_events import (
    ExecutionRecord,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderOpened,
    OrderPreviewed,
    OrderRejected,
    OrderStatusChanged,
    status_report,
)
from ibkr_simulator.order_model import OrderRequest, OrderStatusName, SimulatedOrder
from ibkr_simulator.order_rules import OrderRejectionError, commission_for, validate_terms
from ibkr_simulator.order_schedule import EXPIRED_REASON, OrderSchedule
from ibkr_simulator.prices import PriceBook, Quote

logger = logging.getLogger(__name__)

EventSink = Callable[[OrderEvent], None]
OrderKey = tuple[int, int]

# permIds look like a real gateway's nine- or ten-digit numbers and never repeat.
FIRST_PERM_ID = 1_100_000_001


class OrderEngine:
    """All orders of all clients, matched against the price book on every step."""

    def __init__(
        self,
        universe: ContractUniverse,
        prices: PriceBook,
        accounts: AccountBook,
        fills: FillPolicy,
        clock: Clock,
        sink: EventSink,
    ) -> None:
        self._universe = universe
        self._prices = prices
        self._accounts = accounts
        self._fills = fills
        self._liquidity = LiquidityBook(fills)
        # During a matching pass: executions in OCA groups without block, whose other members
        # are reduced only once every order has seen the new book (None outside a pass).
        self._unblocked_executions: list[SimulatedOrder] | None = None
        self._clock = clock
        self._sink = sink
        # The order each (clientId, orderId) names now; a gateway restart can reuse ids.
        self._orders: dict[OrderKey, SimulatedOrder] = {}
        # Every order since the simulator started, by permId, for completed orders and executions.
        self._all_orders: dict[int, SimulatedOrder] = {}
        # Orders placed before the last order-id reset: their ids may be reused for new orders.
        self._previous_session: set[int] = set()
        self._executions: list[ExecutionRecord] = []
        self._combos = ComboMatcher(
            prices, accounts, self._liquidity, lambda: self._fills, clock, self._executions
        )
        self._next_perm_id = FIRST_PERM_ID
        self._highest_order_id: dict[int, int] = {}
        self._rejections: deque[str] = deque()
        # Trading hours and time in force: which orders IB holds until the open, and expiries.
        self._schedule = OrderSchedule(clock)

    # Queries -------------------------------------------------------------------------------

    def next_valid_id(self, client_id: int) -> int:
        return self._highest_order_id.get(client_id, 0) + 1

    def orders(self) -> list[SimulatedOrder]:
        return sorted(self._all_orders.values(), key=lambda order: order.perm_id)

    def open_orders(self, client_id: int | None) -> list[SimulatedOrder]:
        """Working orders of one client (None: all clients), as reqOpenOrders reports them."""
        return [
            order
            for order in self.orders()
            if order.is_working and (client_id is None or order.client_id == client_id)
        ]

    def completed_orders(self) -> list[SimulatedOrder]:
        return [order for order in self.orders() if order.is_done]

    def executions(self) -> list[ExecutionRecord]:
        return list(self._executions)

    # Faults ----------------------------------------------------------------------------------

    def reject_next_order(self, reason: str) -> None:
        self._rejections.append(reason)

    def set_fill_policy(self, policy: FillPolicy) -> None:
        """Change how orders execute from now on (liquidity, partial fills, commissions)."""
        self._fills = policy
        self._liquidity.policy = policy

    @property
    def fill_policy(self) -> FillPolicy:
        return self._fills

    def forget_order_ids(self) -> None:
        """A gateway restart: nextValidId starts again at 1, while working orders keep going."""
        self._highest_order_id.clear()
        self._previous_session = set(self._all_orders)

    # Requests --------------------------------------------------------------------------------

    def place(self, client_id: int, request: OrderRequest) -> None:
        key = (client_id, request.order_id)
        highest = self._highest_order_id.get(client_id, 0)
        self._highest_order_id[client_id] = max(highest, request.order_id)
        existing = self._orders.get(key)
        if existing is not None and existing.is_done and existing.perm_id in self._previous_session:
            # After a restart the id no longer names the finished order: this is a new one.
            existing = None
        try:
            self._place(client_id, request, existing, highest)
        except OrderRejectionError as rejection:
            self._sink(
                OrderRejected(
                    client_id, request.order_id, rejection.code, rejection.message, rejection.status
                )
            )

    def _place(
        self,
        client_id: int,
        request: OrderRequest,
        existing: SimulatedOrder | None,
        highest: int,
    ) -> None:
        if request.what_if:
            self._preview(client_id, request)
        elif existing is None and request.order_id <= highest:
            # IB's 103 is for "an order ID that is less than or equal to the order ID of a
            # previous order from this client" (IB's message-code table).
            raise OrderRejectionError(
                f"Duplicate order id {request.order_id}", codes.DUPLICATE_ORDER_ID
            )
        elif existing is None:
            self._create(client_id, request)
        elif existing.status == OrderStatusName.FILLED:
            raise OrderRejectionError(
                "Can't modify a filled order.", codes.CANNOT_MODIFY_FILLED_ORDER
            )
        elif existing.is_done:
            raise OrderRejectionError(
                f"Duplicate order id {request.order_id}: order {existing.status.lower()}",
                codes.DUPLICATE_ORDER_ID,
            )
        else:
            self._modify(existing, request)

    def cancel(self, client_id: int, order_id: int) -> None:
        order = self._orders.get((client_id, order_id))
        if order is None:
            self._sink(
                OrderRejected(
                    client_id,
                    order_id,
                    codes.ORDER_TO_CANCEL_NOT_FOUND,
                    f"OrderId {order_id} that needs to be cancelled is not found.",
                )
            )
            return
        if order.is_done:
            self._sink(
                OrderRejected(
                    client_id,
                    order_id,
                    10148,
                    f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                    f"state: {order.status}.",
                )
            )
            return
        self._cancel_with_children(order, confirm=True, reason="")
        self._cancel_rest_of_group(order)

    def cancel_all(self) -> None:
        """reqGlobalCancel: every working or held order of every client."""
        for order in self.orders():
            if not order.is_done and order.parent_id == 0:
                self._cancel_with_children(order, confirm=True, reason="")
        for order in self.orders():
            if not order.is_done:
                self._cancel_with_children(order, confirm=True, reason="")

    def expire_day_orders(self) -> None:
        """End of the trading day: DAY orders that are still working are cancelled by IB."""
        for order in self.orders():
            if order.is_working and order.time_in_force == "DAY":
                self._finish_cancel(order, confirm=True, reason="Order expired")

    def on_clock(self) -> None:
        """The clock moved: orders whose time in force ended are cancelled, held orders whose
        market opened go to the exchange."""
        for order in self._schedule.expired(self.open_orders(None)):
            self._finish_cancel(order, confirm=True, reason=EXPIRED_REASON)
        for order in self._schedule.released(self.open_orders(None)):
            status = self._initial_status(order)
            if status != order.status:
                order.status = status
                self._sink(OrderStatusChanged(order, status_report(order)))
            if self._is_live(order):
                self._work(order, first=True)

    def on_quotes(self, quotes: dict[int, Quote]) -> None:
        """Match every working order against the new book of its instrument."""
        self._unblocked_executions = []
        try:
            for order in self.orders():
                if order.combo is not None:
                    moved = any(quotes.get(leg.contract.con_id) for leg in order.combo.legs)
                    if moved and self._is_live(order):
                        self._evaluate_combo(order, quotes, first=False)
                    continue
                quote = quotes.get(order.contract.con_id)
                if quote is not None and self._is_live(order):
                    self._evaluate(order, quote, first=False)
        finally:
            executed, self._unblocked_executions = self._unblocked_executions, None
        for order in executed:
            self._rebalance_group(order)

    # Placement -----------------------------------------------------------------------------

    def _preview(self, client_id: int, request: OrderRequest) -> None:
        """What-if: validate and estimate like a real order, but keep and execute nothing."""
        order = self._build(client_id, request, perm_id=0)
        if order.combo is not None:
            margin, commission = self._combos.estimate(order)
            self._sink(OrderPreviewed(order, margin, commission))
            return
        price = self._estimate_price(order)
        signed = order.total_quantity if order.is_buy else -order.total_quantity
        margin = self._accounts.margin_preview(order.account, order.contract, signed, price)
        commission = commission_for(self._fills, order.contract, order.total_quantity, price)
        self._sink(OrderPreviewed(order, margin, commission))

    def _create(self, client_id: int, request: OrderRequest) -> None:
        if self._rejections:
            raise OrderRejectionError(self._rejections.popleft())
        order = self._build(client_id, request, perm_id=0)
        self._check_margin(order)
        order.perm_id = self._allocate_perm_id()
        self._orders[(client_id, request.order_id)] = order
        self._all_orders[order.perm_id] = order
        if request.transmit:
            self._transmit(order)

    def _estimate_price(self, order: SimulatedOrder) -> float:
        quote = self._prices.quote(order.contract.con_id)
        return order.limit_price or order.aux_price or (quote.ask if order.is_buy else quote.bid)

    def _check_margin(self, order: SimulatedOrder) -> None:
        """IB refuses an order whose fill would leave initial margin above equity with loan."""
        if order.combo is not None:
            margin, _ = self._combos.estimate(order)
        else:
            signed = order.total_quantity if order.is_buy else -order.total_quantity
            margin = self._accounts.margin_preview(
                order.account, order.contract, signed, self._estimate_price(order)
            )
        if margin.initial_after > margin.equity_with_loan_after:
            # IB received the order (it has a permId) and its risk checks made it Inactive.
            order.perm_id = self._allocate_perm_id()
            raise OrderRejectionError(
                "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR "
                f"EQUITY WITH LOAN VALUE [{margin.equity_with_loan_after:.2f} "
                f"{order.contract.currency}] MUST EXCEED THE INITIAL MARGIN "
                f"[{margin.initial_after:.2f} {order.contract.currency}]",
                status=status_report(order, OrderStatusName.INACTIVE),
            )

    def _build(self, client_id: int, request: OrderRequest, perm_id: int) -> SimulatedOrder:
        combo = self._resolve_combo(request)
        contract = combo.contract if combo else self._resolve(request)
        account = self._account_for(request)
        if combo is not None:
            validate_combo_terms(request, combo)
        else:
            validate_terms(request, contract)
        parent = None
        oca_group, oca_type = request.oca_group, request.oca_type
        if request.parent_id:
            parent = self._orders.get((client_id, request.parent_id))
            if parent is None or parent.is_done:
                raise OrderRejectionError(f"Parent order {request.parent_id} is not working")
            if not oca_group:
                oca_group, oca_type = str(parent.perm_id), oca.BRACKET_OCA_TYPE
        return SimulatedOrder(
            client_id=client_id,
            order_id=request.order_id,
            perm_id=perm_id,
            account=account,
            contract=contract,
            action=request.action,
            total_quantity=request.total_quantity,
            order_type=request.order_type,
            limit_price=request.limit_price,
            aux_price=request.aux_price,
            time_in_force=request.time_in_force,
            oca_group=oca_group,
            oca_type=oca_type,
            order_reference=request.order_reference,
            parent_id=request.parent_id,
            outside_regular_hours=request.outside_regular_hours,
            good_till_date=request.good_till_date,
            trailing_percent=request.trailing_percent,
            trail_stop_price=request.trail_stop_price,
            placed_at=self._clock(),
            parent_perm_id=parent.perm_id if parent else 0,
            oca_basis=request.total_quantity,
            combo=combo,
            leg_prices=request.combo_legs.leg_prices if request.combo_legs else (),
        )

    def _modify(self, order: SimulatedOrder, request: OrderRequest) -> None:
        if order.combo is not None:
            validate_combo_terms(request, order.combo)
        else:
            validate_terms(request, order.contract)
        if request.total_quantity < order.filled:
            raise OrderRejectionError("The new quantity is below the quantity already filled")
        if request.total_quantity != order.total_quantity:
            order.oca_basis = request.total_quantity
        order.total_quantity = request.total_quantity
        order.order_type = request.order_type
        order.limit_price = request.limit_price
        order.aux_price = request.aux_price
        order.time_in_force = request.time_in_force
        order.order_reference = request.order_reference
        if request.oca_group or not order.parent_id:
            # A bracket child keeps the group IB gave it when the client sends none.
            order.oca_group = request.oca_group
        order.trailing_percent = request.trailing_percent
        if request.trail_stop_price is not None:
            order.trail_stop_price = request.trail_stop_price
        order.outside_regular_hours = request.outside_regular_hours
        if not order.transmitted:
            if request.transmit:
                self._transmit(order)
            return
        for notice in self._schedule.admit(order):
            self._sink(notice)
        self._sink(OrderOpened(order, status_report(order)))
        if self._is_live(order):
            self._work(order, first=False)

    def _transmit(self, order: SimulatedOrder) -> None:
        """Release an order with its bracket: the parent first, then its held children."""
        root = self._orders.get((order.client_id, order.parent_id)) if order.parent_id else order
        group = [root] if root is not None else [order]
        group += [
            child
            for child in self._children(group[0])
            if child is not group[0] and not child.is_done
        ]
        released = [member for member in group if not member.transmitted]
        for member in released:
            member.transmitted = True
            for notice in self._schedule.admit(member):
                self._sink(notice)
            member.status = self._initial_status(member)
            self._sink(OrderOpened(member, status_report(member)))
        for member in released:
            if self._is_live(member):
                self._work(member, first=True)

    def _initial_status(self, order: SimulatedOrder) -> str:
        if not self._schedule.may_work(order):
            return OrderStatusName.PRE_SUBMITTED
        if order.parent_id and not self._parent_filled(order):
            return OrderStatusName.PRE_SUBMITTED
        if is_stop_type(order):
            return OrderStatusName.PRE_SUBMITTED
        return OrderStatusName.SUBMITTED

    # Matching --------------------------------------------------------------------------------

    def _is_live(self, order: SimulatedOrder) -> bool:
        if not order.is_working or order.status == OrderStatusName.PENDING_CANCEL:
            return False
        if not self._schedule.may_work(order):
            return False
        return not order.parent_id or self._parent_filled(order)

    def _parent_filled(self, order: SimulatedOrder) -> bool:
        parent = self._orders.get((order.client_id, order.parent_id))
        return parent is not None and parent.status == OrderStatusName.FILLED

    def _work(self, order: SimulatedOrder, *, first: bool) -> None:
        """Match an order against the current book of its instrument (or of its legs)."""
        if order.combo is not None:
            self._evaluate_combo(order, {}, first=first)
        else:
            self._evaluate(order, self._prices.quote(order.contract.con_id), first=first)

    def _evaluate_combo(
        self, order: SimulatedOrder, quotes: dict[int, Quote], *, first: bool
    ) -> None:
        """All legs together, whole combinations only, within the net limit."""

        def quote_of(con_id: int) -> Quote:
            return quotes.get(con_id) or self._prices.quote(con_id)

        immediate = order.time_in_force in {"IOC", "FOK"}
        fill = self._combos.plan(order, quote_of)
        if fill is None:
            if immediate and first:
                self._finish_cancel(order, confirm=True, reason="IOC/FOK order not marketable")
            return
        if order.time_in_force == "FOK" and fill.units < order.remaining - 1e-9:
            self._finish_cancel(order, confirm=True, reason="FOK order cannot fill in full")
            return
        self._sink(self._combos.execute(order, fill, len(self._executions) + 1))
        if immediate and not order.is_done:
            self._finish_cancel(order, confirm=True, reason="IOC remainder")

    def _evaluate(self, order: SimulatedOrder, quote: Quote, *, first: bool) -> None:
        update_trail(order, quote)
        was_triggered = order.triggered
        check_trigger(order, quote)
        if order.triggered and not was_triggered:
            order.status = OrderStatusName.SUBMITTED
            self._sink(OrderStatusChanged(order, status_report(order)))
        immediate = order.time_in_force in {"IOC", "FOK"}
        levels: list[BookLevel] = []
        if is_active(order):
            levels = self._liquidity.available(
                quote, order.contract, buy=order.is_buy, limit=effective_limit(order)
            )
        if not levels:
            if immediate and (first or order.triggered):
                self._finish_cancel(order, confirm=True, reason="IOC/FOK order not marketable")
            return
        quantity = order.remaining
        partial = self._fills.partial_fill_quantity
        if partial is not None and order.time_in_force != "FOK":
            quantity = min(quantity, partial)
        # Walk the book best price first: one execution per level, as IB reports a sweep.
        executions = plan_executions(levels, quantity)
        if order.time_in_force == "FOK" and sum(size for _, size in executions) < quantity - 1e-9:
            self._finish_cancel(order, confirm=True, reason="FOK order cannot fill in full")
            return
        for price, size in executions:
            if order.is_done:
                break
            self._liquidity.take(order.contract, buy=order.is_buy, price=price, quantity=size)
            self._fill(order, size, price)
        if immediate and not order.is_done:
            self._finish_cancel(order, confirm=True, reason="IOC remainder")

    def _fill(self, order: SimulatedOrder, quantity: float, price: float) -> None:
        contract = order.contract
        commission = commission_of_execution(self._fills, order, quantity, price)
        order.commission_charged += commission
        realized = self._accounts.apply_fill(
            order.account,
            contract,
            buy=order.is_buy,
            quantity=quantity,
            price=price,
            commission=commission,
        )
        previous_value = order.filled * order.average_fill_price
        order.filled += quantity
        order.average_fill_price = (previous_value + quantity * price) / order.filled
        order.last_fill_price = price
        now = self._clock()
        if order.remaining <= 1e-9:
            order.status = OrderStatusName.FILLED
            order.completed_at = now
            order.completed_reason = "Filled Size: " + str(order.filled)
        else:
            order.status = OrderStatusName.SUBMITTED
        execution_id = f"{order.perm_id:08x}.{len(self._executions) + 1:08x}.01.01"
        order.fills.append(execution_id)
        report = execution_report(order, execution_id, format_ib_datetime(now), quantity, price)
        record = ExecutionRecord(report, commission, contract.currency, realized)
        self._executions.append(record)
        self._sink(OrderFilled(order, status_report(order), record))
        if order.status == OrderStatusName.FILLED:
            for child in self._children(order):
                if child.is_working:
                    child.status = self._initial_status(child)
                    self._sink(OrderStatusChanged(child, status_report(child)))
        if oca.group_key(order) is None:
            return
        if self._unblocked_executions is not None and not oca.blocks(order):
            # No block: the other members may still execute against this same book.
            self._unblocked_executions.append(order)
        else:
            self._rebalance_group(order)

    # OCA groups ------------------------------------------------------------------------------

    def _group_members(self, order: SimulatedOrder) -> list[SimulatedOrder]:
        key = oca.group_key(order)
        return [member for member in self.orders() if oca.group_key(member) == key]

    def _rebalance_group(self, executed: SimulatedOrder) -> None:
        """After an execution, IB cancels or shrinks the group's other working orders."""
        for change in oca.adjustments(executed, self._group_members(executed)):
            member = change.order
            if member.is_done:
                continue
            if change.cancels:
                self._finish_cancel(member, confirm=True, reason="OCA group executed")
            else:
                member.total_quantity = change.new_total_quantity
                self._sink(OrderOpened(member, status_report(member)))

    def _cancel_rest_of_group(self, order: SimulatedOrder) -> None:
        """A member the client cancels before the group executes takes the others with it.

        IB's glossary: "If an order is canceled by the client before execution, all remaining
        orders in the OCA group will automatically be canceled, but if one of the orders is
        rejected or canceled by the system, the remaining order(s) WILL NOT".
        """
        if oca.group_key(order) is None:
            return
        members = self._group_members(order)
        if any(member.filled > 0 for member in members):
            return
        for member in members:
            if member is not order and not member.is_done:
                self._cancel_with_children(member, confirm=True, reason="OCA group cancelled")

    # Cancellation ----------------------------------------------------------------------------

    def _cancel_with_children(self, order: SimulatedOrder, *, confirm: bool, reason: str) -> None:
        if order.is_done:
            return
        if order.transmitted:
            order.status = OrderStatusName.PENDING_CANCEL
            self._sink(OrderStatusChanged(order, status_report(order)))
        self._finish_cancel(order, confirm=confirm, reason=reason)
        for child in self._children(order):
            if not child.is_done:
                self._finish_cancel(child, confirm=confirm, reason="Parent order cancelled")

    def _finish_cancel(self, order: SimulatedOrder, *, confirm: bool, reason: str) -> None:
        order.status = OrderStatusName.CANCELLED
        order.completed_at = self._clock()
        order.completed_reason = reason or "Cancelled by client"
        self._sink(OrderCancelled(order, status_report(order), confirm, reason))

    # Helpers ---------------------------------------------------------------------------------

    def _children(self, parent: SimulatedOrder) -> Iterable[SimulatedOrder]:
        return [
            order
            for order in self.orders()
            if order.client_id == parent.client_id and order.parent_id == parent.order_id
        ]

    def _resolve_combo(self, request: OrderRequest) -> Combo | None:
        if request.contract.sec_type != BAG:
            return None
        legs = request.combo_legs.legs if request.combo_legs else ()
        try:
            return resolve_combo(self._universe, request.contract, legs)
        except ComboError as error:
            raise OrderRejectionError(str(error)) from error

    def _resolve(self, request: OrderRequest) -> ContractSpec:
        contract = self._universe.resolve_one(request.contract)
        if contract is None:
            raise OrderRejectionError("No security definition has been found for the request")
        return contract

    def _account_for(self, request: OrderRequest) -> str:
        if not request.account:
            return self._accounts.names[0]
        if not self._accounts.has(request.account):
            raise OrderRejectionError(f"Account {request.account} is not managed by this login")
        return request.account

    def _allocate_perm_id(self) -> int:
        perm_id = self._next_perm_id
        self._next_perm_id += 1
        return perm_id
