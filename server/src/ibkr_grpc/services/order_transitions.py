"""Pure functions that build orders and move them through their states from broker reports."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderStatus,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import BracketRole, OrderStatus, OrderType
from ibkr_grpc.domain.identifiers import new_order_id
from ibkr_grpc.domain.orders import ArrivalQuote, Fill, Order, OrderIntent, OrderTerms


def request_fingerprint(intent: OrderIntent) -> str:
    """Equal for equal requests: what AIP-155 compares when a client_order_id comes again."""
    return hashlib.sha256(repr(replace(intent, validate_only=False)).encode()).hexdigest()


def build_orders(
    intent: OrderIntent,
    *,
    account: str,
    contract: ContractSpec,
    client_order_id: str,
    arrival_quote: ArrivalQuote | None,
    now: datetime,
    placed_by: str = "",
) -> list[Order]:
    """The parent order, then its take-profit and stop-loss legs when the intent has them."""
    parent_id = new_order_id()
    legs = intent.legs
    parent = Order(
        order_id=parent_id,
        client_order_id=client_order_id,
        account=account,
        contract=contract,
        terms=intent.terms,
        status=OrderStatus.PENDING_SUBMIT,
        create_time=now,
        update_time=now,
        bracket_role=BracketRole.PARENT if legs.any else BracketRole.NONE,
        arrival_quote=arrival_quote,
        placed_by=placed_by,
        combo_legs=intent.combo_legs,
    )
    if not legs.any:
        return [parent]
    oca_group = f"bracket-{parent_id}"
    exit_side = intent.terms.side.opposite
    children: list[Order] = []
    if legs.take_profit_limit_price is not None:
        terms = OrderTerms(
            side=exit_side,
            quantity=intent.terms.quantity,
            order_type=OrderType.LIMIT,
            limit_price=legs.take_profit_limit_price,
            time_in_force=intent.terms.time_in_force,
            outside_regular_hours=intent.terms.outside_regular_hours,
        )
        children.append(_leg(parent, terms, BracketRole.TAKE_PROFIT, oca_group))
    if legs.stop_loss_stop_price is not None:
        limit = legs.stop_loss_limit_price
        terms = OrderTerms(
            side=exit_side,
            quantity=intent.terms.quantity,
            order_type=OrderType.STOP if limit is None else OrderType.STOP_LIMIT,
            limit_price=limit,
            stop_price=legs.stop_loss_stop_price,
            time_in_force=intent.terms.time_in_force,
            outside_regular_hours=intent.terms.outside_regular_hours,
        )
        children.append(_leg(parent, terms, BracketRole.STOP_LOSS, oca_group))
    parent = replace(parent, child_order_ids=tuple(child.order_id for child in children))
    return [parent, *children]


def _leg(parent: Order, terms: OrderTerms, role: BracketRole, oca: str) -> Order:
    # A leg carries its parent's client_order_id, the key of the request that created both;
    # no id is derived from it, so no client's key can ever collide with a leg.
    return replace(
        parent,
        order_id=new_order_id(),
        terms=terms,
        bracket_role=role,
        parent_order_id=parent.order_id,
        child_order_ids=(),
        oca_group=oca,
    )


def apply_status(order: Order, report: BrokerOrderStatus, now: datetime) -> Order | None:
    """The order after a status report, or None when the report changes nothing."""
    filled = max(order.filled_quantity, report.filled_quantity)
    status = report.status
    if status is OrderStatus.SUBMITTED and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    if filled >= order.terms.quantity > 0:
        status = OrderStatus.FILLED
    was_final = order.status.is_final and order.status is not OrderStatus.NOT_SENT
    if was_final and not (status is OrderStatus.FILLED and filled > order.filled_quantity):
        # A final state is final; only a late fill report may still complete the picture.
        # (NOT_SENT is the server's conclusion, not IB's: any word from IB overrides it.)
        status = order.status
    average = report.average_fill_price or order.average_fill_price
    reason = report.reason if status is report.status else order.status_reason
    updated = replace(
        order,
        status=status,
        status_reason=reason,
        filled_quantity=filled,
        average_fill_price=average if filled > 0 else None,
        perm_id=report.perm_id or order.perm_id,
    )
    if updated == order:
        return None
    return replace(updated, update_time=now)


def apply_execution(order: Order, report: BrokerExecution, now: datetime) -> tuple[Order, Fill]:
    """The order after an execution, and the fill measured against its arrival quote."""
    quote = order.arrival_quote
    fill = fill_of(
        report, order_id=order.order_id, reference=quote.reference_price if quote else None
    )
    filled = max(order.filled_quantity, report.cumulative_quantity)
    status = order.status
    if filled >= order.terms.quantity:
        status = OrderStatus.FILLED
    elif not status.is_final and status is not OrderStatus.PENDING_CANCEL:
        status = OrderStatus.PARTIALLY_FILLED
    updated = replace(
        order,
        status=status,
        filled_quantity=filled,
        average_fill_price=report.average_price or order.average_fill_price,
        perm_id=report.perm_id or order.perm_id,
        update_time=now,
    )
    return updated, fill


def fill_of(report: BrokerExecution, *, order_id: str, reference: Decimal | None) -> Fill:
    return Fill(
        execution_id=report.execution_id,
        account=report.account,
        contract=report.contract,
        side=report.side,
        quantity=report.quantity,
        price=report.price,
        execution_time=report.execution_time,
        order_id=order_id,
        broker_order_id=report.broker_order_id,
        perm_id=report.perm_id,
        cumulative_quantity=report.cumulative_quantity,
        average_price=report.average_price,
        exchange=report.exchange,
        commission=report.commission,
        commission_currency=report.commission_currency,
        realized_pnl=report.realized_pnl,
        reference_price=reference,
    )


def apply_commission(fill: Fill, report: BrokerCommission) -> Fill:
    return replace(
        fill,
        commission=report.commission,
        commission_currency=report.currency,
        realized_pnl=report.realized_pnl,
    )


def add_commission(order: Order, previous: Decimal | None, fill: Fill, now: datetime) -> Order:
    """The order with a fill's commission added (replacing that fill's earlier figure)."""
    total = (order.commission or Decimal(0)) - (previous or Decimal(0)) + (fill.commission or 0)
    return replace(
        order, commission=total, commission_currency=fill.commission_currency, update_time=now
    )


def not_sent(order: Order, reason: str, now: datetime) -> Order:
    """The order settled as never received by IB."""
    return replace(order, status=OrderStatus.NOT_SENT, status_reason=reason, update_time=now)


def same_broker_terms(stored: OrderTerms, reported: OrderTerms) -> bool:
    """Whether IB's description of an order matches these terms in what IB echoes back
    reliably: quantity, limit price and the auxiliary price (stop or trailing amount)."""
    if stored.quantity != reported.quantity or stored.limit_price != reported.limit_price:
        return False
    if stored.order_type is OrderType.TRAILING_STOP:
        return stored.trailing_amount == reported.trailing_amount
    return stored.stop_price == reported.stop_price


def terms_from_broker(stored: OrderTerms, reported: OrderTerms) -> OrderTerms:
    """The stored terms with what IB reports of them."""
    if stored.order_type is OrderType.TRAILING_STOP:
        return replace(stored, quantity=reported.quantity, trailing_amount=reported.trailing_amount)
    return replace(
        stored,
        quantity=reported.quantity,
        limit_price=reported.limit_price,
        stop_price=reported.stop_price,
    )


def discovered_order(report: BrokerOpenOrder, terms: OrderTerms, now: datetime) -> Order:
    """An order placed outside this server (another API client, TWS, the app), as first seen."""
    return Order(
        order_id=new_order_id(),
        client_order_id="",
        account=report.account,
        contract=report.contract,
        terms=terms,
        status=report.status or OrderStatus.SUBMITTED,
        create_time=now,
        update_time=now,
        broker_order_id=report.broker_order_id,
        perm_id=report.perm_id,
        oca_group=report.oca_group,
        origin=report.origin,
        broker_client_id=report.client_id,
    )
