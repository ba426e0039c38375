"""Domain objects with sensible defaults, for tests that care about one or two fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderStatus, OrderType, Side
from ibkr_grpc.domain.identifiers import new_order_id
from ibkr_grpc.domain.orders import Fill, Order, OrderTerms

EPOCH = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)


def make_order(
    *,
    order_id: str | None = None,
    client_order_id: str | None = None,
    account: str = "DU1234567",
    symbol: str = "AAPL",
    side: Side = Side.BUY,
    quantity: str = "10",
    order_type: OrderType = OrderType.LIMIT,
    limit_price: str | None = "187.25",
    status: OrderStatus = OrderStatus.PENDING_SUBMIT,
    created_minutes: int = 0,
    broker_order_id: int = 0,
) -> Order:
    identifier = order_id or new_order_id()
    created = EPOCH + timedelta(minutes=created_minutes)
    return Order(
        order_id=identifier,
        client_order_id=client_order_id or f"client-{identifier}",
        account=account,
        contract=ContractSpec(symbol=symbol),
        terms=OrderTerms(
            side=side,
            quantity=Decimal(quantity),
            order_type=order_type,
            limit_price=Decimal(limit_price) if limit_price is not None else None,
        ),
        status=status,
        create_time=created,
        update_time=created,
        broker_order_id=broker_order_id,
    )


def make_fill(
    order: Order, *, execution_id: str, quantity: str, price: str, minutes: int = 1
) -> Fill:
    return Fill(
        execution_id=execution_id,
        account=order.account,
        contract=order.contract,
        side=order.terms.side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        execution_time=order.create_time + timedelta(minutes=minutes),
        order_id=order.order_id,
        broker_order_id=order.broker_order_id,
        cumulative_quantity=Decimal(quantity),
        average_price=Decimal(price),
    )
