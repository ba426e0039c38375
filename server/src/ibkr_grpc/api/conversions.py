"""Domain objects to ibkr.v1 messages (and the few conversions the other way that need no
validation). The request parsers that validate input live in api.requests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf import timestamp_pb2

from ibkr.v1 import common_pb2, order_service_pb2
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.enums import (
    BracketRole,
    OptionRight,
    OrderEventType,
    OrderOrigin,
    OrderStatus,
    OrderType,
    SecurityType,
    Side,
    TimeInForce,
)
from ibkr_grpc.domain.options import OptionGreeks
from ibkr_grpc.domain.orders import Fill, Order, OrderEvent

K = TypeVar("K")

# Each domain enum maps to the proto enum value of the same name with the proto's prefix.
SECURITY_TYPES = {
    kind: common_pb2.SecurityType.Value(f"SECURITY_TYPE_{kind.value}") for kind in SecurityType
}
OPTION_RIGHTS = {
    OptionRight.NONE: common_pb2.OPTION_RIGHT_UNSPECIFIED,
    OptionRight.CALL: common_pb2.OPTION_RIGHT_CALL,
    OptionRight.PUT: common_pb2.OPTION_RIGHT_PUT,
}
SIDES = {side: common_pb2.Side.Value(f"SIDE_{side.value}") for side in Side}
ORDER_TYPES = {
    kind: order_service_pb2.OrderType.Value(f"ORDER_TYPE_{kind.value}") for kind in OrderType
}
TIMES_IN_FORCE = {
    tif: order_service_pb2.TimeInForce.Value(f"TIME_IN_FORCE_{tif.value}") for tif in TimeInForce
}
ORDER_STATUSES = {
    status: order_service_pb2.OrderStatus.Value(f"ORDER_STATUS_{status.value}")
    for status in OrderStatus
}
BRACKET_ROLES = {
    role: order_service_pb2.BracketRole.Value(
        "BRACKET_ROLE_UNSPECIFIED" if role is BracketRole.NONE else f"BRACKET_ROLE_{role.value}"
    )
    for role in BracketRole
}
ORDER_ORIGINS = {
    origin: order_service_pb2.OrderOrigin.Value(f"ORDER_ORIGIN_{origin.value}")
    for origin in OrderOrigin
}
EVENT_TYPES = {
    kind: order_service_pb2.OrderEventType.Value(f"ORDER_EVENT_TYPE_{kind.value}")
    for kind in OrderEventType
}


def reverse(mapping: Mapping[K, int]) -> dict[int, K]:
    """Proto enum number to domain value."""
    return {int(value): key for key, value in mapping.items()}


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment.astimezone(UTC))
    return message


def datetime_of(message: timestamp_pb2.Timestamp) -> datetime:
    return message.ToDatetime(tzinfo=UTC)


def contract_message(contract: ContractSpec) -> common_pb2.Contract:
    return common_pb2.Contract(
        con_id=contract.con_id,
        symbol=contract.symbol,
        security_type=SECURITY_TYPES[contract.security_type],
        exchange=contract.exchange,
        primary_exchange=contract.primary_exchange,
        currency=contract.currency,
        local_symbol=contract.local_symbol,
        trading_class=contract.trading_class,
        last_trade_date_or_contract_month=contract.last_trade_date_or_contract_month,
        strike=write_decimal(contract.strike),
        right=OPTION_RIGHTS[contract.right],
        multiplier=contract.multiplier,
    )


def greeks_message(greeks: OptionGreeks | None) -> common_pb2.OptionGreeks | None:
    if greeks is None:
        return None
    return common_pb2.OptionGreeks(
        implied_volatility=write_decimal(greeks.implied_volatility),
        delta=write_decimal(greeks.delta),
        gamma=write_decimal(greeks.gamma),
        vega=write_decimal(greeks.vega),
        theta=write_decimal(greeks.theta),
        underlying_price=write_decimal(greeks.underlying_price),
        option_price=write_decimal(greeks.option_price),
        bid_implied_volatility=write_decimal(greeks.bid_implied_volatility),
        ask_implied_volatility=write_decimal(greeks.ask_implied_volatility),
    )


def order_message(order: Order) -> order_service_pb2.Order:
    terms = order.terms
    message = order_service_pb2.Order(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        broker_order_id=order.broker_order_id,
        perm_id=order.perm_id,
        account=order.account,
        contract=contract_message(order.contract),
        side=SIDES[terms.side],
        order_type=ORDER_TYPES[terms.order_type],
        quantity=write_decimal(terms.quantity),
        limit_price=write_decimal(terms.limit_price),
        stop_price=write_decimal(terms.stop_price),
        trailing_amount=write_decimal(terms.trailing_amount),
        trailing_percent=write_decimal(terms.trailing_percent),
        time_in_force=TIMES_IN_FORCE[terms.time_in_force],
        outside_regular_hours=terms.outside_regular_hours,
        status=ORDER_STATUSES[order.status],
        status_reason=order.status_reason,
        filled_quantity=write_decimal(order.filled_quantity),
        remaining_quantity=write_decimal(order.remaining_quantity),
        average_fill_price=write_decimal(order.average_fill_price),
        parent_order_id=order.parent_order_id,
        child_order_ids=list(order.child_order_ids),
        bracket_role=BRACKET_ROLES[order.bracket_role],
        oca_group=order.oca_group,
        commission=write_decimal(order.commission),
        commission_currency=order.commission_currency,
        create_time=timestamp(order.create_time),
        update_time=timestamp(order.update_time),
        origin=ORDER_ORIGINS[order.origin],
        broker_client_id=order.broker_client_id,
        legs=[
            order_service_pb2.OrderLeg(
                contract=contract_message(leg.contract), side=SIDES[leg.side], ratio=leg.ratio
            )
            for leg in order.combo_legs
        ],
    )
    quote = order.arrival_quote
    if quote is not None:
        message.arrival_quote.CopyFrom(
            order_service_pb2.ArrivalQuote(
                bid=write_decimal(quote.bid),
                ask=write_decimal(quote.ask),
                last=write_decimal(quote.last),
                time=timestamp(quote.time),
            )
        )
    return message


def fill_message(fill: Fill) -> order_service_pb2.Fill:
    return order_service_pb2.Fill(
        execution_id=fill.execution_id,
        order_id=fill.order_id,
        broker_order_id=fill.broker_order_id,
        perm_id=fill.perm_id,
        account=fill.account,
        contract=contract_message(fill.contract),
        side=SIDES[fill.side],
        quantity=write_decimal(fill.quantity),
        price=write_decimal(fill.price),
        cumulative_quantity=write_decimal(fill.cumulative_quantity),
        average_price=write_decimal(fill.average_price),
        commission=write_decimal(fill.commission),
        commission_currency=fill.commission_currency,
        realized_pnl=write_decimal(fill.realized_pnl),
        exchange=fill.exchange,
        execution_time=timestamp(fill.execution_time),
        reference_price=write_decimal(fill.reference_price),
        slippage=write_decimal(fill.slippage),
    )


def order_event_message(event: OrderEvent) -> order_service_pb2.OrderEvent:
    message = order_service_pb2.OrderEvent(
        sequence=event.sequence,
        type=EVENT_TYPES[event.event_type],
        event_time=timestamp(event.event_time),
        order=order_message(event.order),
        detail=event.detail,
    )
    if event.fill is not None:
        message.fill.CopyFrom(fill_message(event.fill))
    return message
