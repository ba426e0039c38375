"""Conversions between table rows and domain objects, and the JSON snapshots of the event log."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import (
    BracketRole,
    OptionRight,
    OrderOrigin,
    OrderStatus,
    OrderType,
    SecurityType,
    Side,
    TimeInForce,
)
from ibkr_grpc.domain.orders import ArrivalQuote, ComboLeg, Fill, Order, OrderTerms
from ibkr_grpc.store.tables import ContractColumns, FillRow, OrderRow


def contract_columns(contract: ContractSpec) -> dict[str, Any]:
    return {
        "symbol": contract.symbol,
        "security_type": contract.security_type.value,
        "exchange": contract.exchange,
        "currency": contract.currency,
        "con_id": contract.con_id,
        "primary_exchange": contract.primary_exchange,
        "local_symbol": contract.local_symbol,
        "trading_class": contract.trading_class,
        "last_trade_date": contract.last_trade_date_or_contract_month,
        "strike": contract.strike,
        "option_right": contract.right.value,
        "multiplier": contract.multiplier,
    }


def contract_of(row: ContractColumns) -> ContractSpec:
    return ContractSpec(
        symbol=row.symbol,
        security_type=SecurityType(row.security_type),
        exchange=row.exchange,
        currency=row.currency,
        con_id=row.con_id,
        primary_exchange=row.primary_exchange,
        local_symbol=row.local_symbol,
        trading_class=row.trading_class,
        last_trade_date_or_contract_month=row.last_trade_date,
        strike=row.strike,
        right=OptionRight(row.option_right),
        multiplier=row.multiplier,
    )


def order_columns(order: Order) -> dict[str, Any]:
    """Every column of an order's row, child ids aside (they are the children's parent ids)."""
    terms = order.terms
    quote = order.arrival_quote
    return contract_columns(order.contract) | {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "account": order.account,
        "side": terms.side.value,
        "quantity": terms.quantity,
        "order_type": terms.order_type.value,
        "limit_price": terms.limit_price,
        "stop_price": terms.stop_price,
        "trailing_amount": terms.trailing_amount,
        "trailing_percent": terms.trailing_percent,
        "time_in_force": terms.time_in_force.value,
        "outside_regular_hours": terms.outside_regular_hours,
        "status": order.status.value,
        "status_reason": order.status_reason,
        "broker_order_id": order.broker_order_id,
        "perm_id": order.perm_id,
        "filled_quantity": order.filled_quantity,
        "average_fill_price": order.average_fill_price,
        "parent_order_id": order.parent_order_id,
        "bracket_role": order.bracket_role.value,
        "oca_group": order.oca_group,
        "arrival_bid": quote.bid if quote else None,
        "arrival_ask": quote.ask if quote else None,
        "arrival_last": quote.last if quote else None,
        "arrival_time": quote.time if quote else None,
        "commission": order.commission,
        "commission_currency": order.commission_currency,
        "create_time": order.create_time,
        "update_time": order.update_time,
        "placed_by": order.placed_by,
        "origin": order.origin.value,
        "broker_client_id": order.broker_client_id,
        "combo_legs": combo_legs_text(order.combo_legs),
    }


def combo_legs_text(legs: tuple[ComboLeg, ...]) -> str:
    """A combination's legs as stored: each leg's contract columns, side and ratio."""
    if not legs:
        return ""
    rows = [
        contract_columns(leg.contract) | {"side": leg.side.value, "ratio": leg.ratio}
        for leg in legs
    ]
    return json.dumps(rows, default=_json_default, sort_keys=True)


def combo_legs_of(text: str | None) -> tuple[ComboLeg, ...]:
    if not text:
        return ()
    legs: list[ComboLeg] = []
    for columns in json.loads(text):
        side = Side(columns.pop("side"))
        ratio = int(columns.pop("ratio"))
        contract = contract_of(FillRow(**_revive(columns)))
        legs.append(ComboLeg(contract, side, ratio))
    return tuple(legs)


def order_of(row: OrderRow, child_order_ids: tuple[str, ...] = ()) -> Order:
    quote = None
    if row.arrival_time is not None:
        quote = ArrivalQuote(row.arrival_bid, row.arrival_ask, row.arrival_last, row.arrival_time)
    return Order(
        order_id=row.order_id,
        client_order_id=row.client_order_id,
        account=row.account,
        contract=contract_of(row),
        terms=OrderTerms(
            side=Side(row.side),
            quantity=row.quantity,
            order_type=OrderType(row.order_type),
            limit_price=row.limit_price,
            stop_price=row.stop_price,
            trailing_amount=row.trailing_amount,
            trailing_percent=row.trailing_percent,
            time_in_force=TimeInForce(row.time_in_force),
            outside_regular_hours=row.outside_regular_hours,
        ),
        status=OrderStatus(row.status),
        status_reason=row.status_reason,
        create_time=row.create_time,
        update_time=row.update_time,
        broker_order_id=row.broker_order_id,
        perm_id=row.perm_id,
        filled_quantity=row.filled_quantity,
        average_fill_price=row.average_fill_price,
        parent_order_id=row.parent_order_id,
        child_order_ids=child_order_ids,
        bracket_role=BracketRole(row.bracket_role),
        oca_group=row.oca_group,
        arrival_quote=quote,
        commission=row.commission,
        commission_currency=row.commission_currency,
        placed_by=row.placed_by or "",
        # Snapshots written before origins existed are of this server's orders.
        origin=OrderOrigin(row.origin or OrderOrigin.THIS_SERVER.value),
        broker_client_id=row.broker_client_id or 0,
        combo_legs=combo_legs_of(row.combo_legs),
    )


def fill_columns(fill: Fill) -> dict[str, Any]:
    return contract_columns(fill.contract) | {
        "execution_id": fill.execution_id,
        "order_id": fill.order_id,
        "broker_order_id": fill.broker_order_id,
        "perm_id": fill.perm_id,
        "account": fill.account,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": fill.price,
        "cumulative_quantity": fill.cumulative_quantity,
        "average_price": fill.average_price,
        "execution_exchange": fill.exchange,
        "commission": fill.commission,
        "commission_currency": fill.commission_currency,
        "realized_pnl": fill.realized_pnl,
        "reference_price": fill.reference_price,
        "execution_time": fill.execution_time,
    }


def fill_of(row: FillRow) -> Fill:
    return Fill(
        execution_id=row.execution_id,
        account=row.account,
        contract=contract_of(row),
        side=Side(row.side),
        quantity=row.quantity,
        price=row.price,
        execution_time=row.execution_time,
        order_id=row.order_id,
        broker_order_id=row.broker_order_id,
        perm_id=row.perm_id,
        cumulative_quantity=row.cumulative_quantity,
        average_price=row.average_price,
        exchange=row.execution_exchange,
        commission=row.commission,
        commission_currency=row.commission_currency,
        realized_pnl=row.realized_pnl,
        reference_price=row.reference_price,
    )


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    message = f"cannot store {type(value).__name__} in a snapshot"
    raise TypeError(message)


def order_snapshot(order: Order) -> str:
    columns = order_columns(order) | {"child_order_ids": list(order.child_order_ids)}
    return json.dumps(columns, default=_json_default, sort_keys=True)


def fill_snapshot(fill: Fill | None) -> str:
    if fill is None:
        return ""
    return json.dumps(fill_columns(fill), default=_json_default, sort_keys=True)


_DECIMAL_KEYS = frozenset(
    {
        "strike", "quantity", "limit_price", "stop_price", "trailing_amount", "trailing_percent",
        "filled_quantity", "average_fill_price", "arrival_bid", "arrival_ask", "arrival_last",
        "commission", "price", "cumulative_quantity", "average_price", "realized_pnl",
        "reference_price",
    }
)  # fmt: skip
_TIME_KEYS = frozenset({"arrival_time", "create_time", "update_time", "execution_time"})


def _revive(columns: dict[str, Any]) -> dict[str, Any]:
    revived: dict[str, Any] = {}
    for key, value in columns.items():
        if value is not None and key in _DECIMAL_KEYS:
            revived[key] = Decimal(value)
        elif value is not None and key in _TIME_KEYS:
            revived[key] = datetime.fromisoformat(value)
        else:
            revived[key] = value
    return revived


def order_from_snapshot(text: str) -> Order:
    columns = _revive(json.loads(text))
    children = tuple(columns.pop("child_order_ids", ()))
    return order_of(OrderRow(**columns), children)


def fill_from_snapshot(text: str) -> Fill | None:
    if not text:
        return None
    return fill_of(FillRow(**_revive(json.loads(text))))
