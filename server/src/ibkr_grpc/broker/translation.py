"""Domain values to ib_async objects and back. Pure functions; no I/O."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

from ib_async import Contract, Execution, Order, OrderStatus, Trade
from ib_async.objects import CommissionReport, Fill
from ib_async.util import UNSET_DOUBLE

from ibkr_grpc.broker.error_codes import ORDER_CANCELLED, ORDER_REJECTIONS
from ibkr_grpc.domain import enums
from ibkr_grpc.domain.broker_reports import BrokerCommission, BrokerExecution, BrokerOrderStatus
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.orders import Order as DomainOrder

SECURITY_TYPES = {
    enums.SecurityType.STOCK: "STK",
    enums.SecurityType.FOREX: "CASH",
    enums.SecurityType.FUTURE: "FUT",
    enums.SecurityType.OPTION: "OPT",
    enums.SecurityType.INDEX: "IND",
    enums.SecurityType.CFD: "CFD",
    enums.SecurityType.CRYPTO: "CRYPTO",
}
_SECURITY_TYPES_BACK = {code: kind for kind, code in SECURITY_TYPES.items()} | {
    "ETF": enums.SecurityType.STOCK
}
ORDER_TYPES = {
    enums.OrderType.MARKET: "MKT",
    enums.OrderType.LIMIT: "LMT",
    enums.OrderType.STOP: "STP",
    enums.OrderType.STOP_LIMIT: "STP LMT",
    enums.OrderType.TRAILING_STOP: "TRAIL",
}
ACTIONS = {enums.Side.BUY: "BUY", enums.Side.SELL: "SELL"}
_STATUSES = {
    OrderStatus.PendingSubmit: enums.OrderStatus.PENDING_SUBMIT,
    OrderStatus.ApiPending: enums.OrderStatus.PENDING_SUBMIT,
    OrderStatus.PreSubmitted: enums.OrderStatus.SUBMITTED,
    OrderStatus.Submitted: enums.OrderStatus.SUBMITTED,
    OrderStatus.PendingCancel: enums.OrderStatus.PENDING_CANCEL,
    OrderStatus.ApiCancelled: enums.OrderStatus.CANCELLED,
    OrderStatus.Cancelled: enums.OrderStatus.CANCELLED,
    OrderStatus.Filled: enums.OrderStatus.FILLED,
    OrderStatus.Inactive: enums.OrderStatus.INACTIVE,
}


def decimal_of(value: float | Decimal | str | None) -> Decimal | None:
    """IB's floats as exact decimals of their shortest repr; IB's "unset" values as None."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or value == UNSET_DOUBLE:
            return None
        return Decimal(repr(value))
    return Decimal(value)


def ib_contract(contract: ContractSpec) -> Contract:
    return Contract(
        conId=contract.con_id,
        symbol=contract.symbol,
        secType=SECURITY_TYPES[contract.security_type],
        lastTradeDateOrContractMonth=contract.last_trade_date_or_contract_month,
        strike=float(contract.strike) if contract.strike is not None else 0.0,
        right={"CALL": "C", "PUT": "P"}.get(contract.right.value, ""),
        multiplier=contract.multiplier,
        exchange=contract.exchange,
        primaryExchange=contract.primary_exchange,
        currency=contract.currency,
        localSymbol=contract.local_symbol,
        tradingClass=contract.trading_class,
    )


def contract_spec(contract: Contract) -> ContractSpec:
    right = {"C": enums.OptionRight.CALL, "P": enums.OptionRight.PUT}.get(
        contract.right, enums.OptionRight.NONE
    )
    return ContractSpec(
        symbol=contract.symbol,
        security_type=_SECURITY_TYPES_BACK.get(contract.secType, enums.SecurityType.STOCK),
        exchange=contract.exchange,
        currency=contract.currency,
        con_id=contract.conId,
        primary_exchange=contract.primaryExchange,
        local_symbol=contract.localSymbol,
        trading_class=contract.tradingClass,
        last_trade_date_or_contract_month=contract.lastTradeDateOrContractMonth,
        strike=decimal_of(contract.strike) if contract.strike else None,
        right=right,
        multiplier=contract.multiplier,
    )


def _price(value: Decimal | None) -> float:
    return float(value) if value is not None else UNSET_DOUBLE


def ib_order(order: DomainOrder, *, parent_broker_order_id: int, transmit: bool) -> Order:
    """The TWS order for a domain order. orderRef carries our order id, so IB's records can
    always be matched back to ours."""
    terms = order.terms
    ib = Order(
        orderId=order.broker_order_id,
        action=ACTIONS[terms.side],
        totalQuantity=float(terms.quantity),
        orderType=ORDER_TYPES[terms.order_type],
        tif=terms.time_in_force.value,
        outsideRth=terms.outside_regular_hours,
        account=order.account,
        orderRef=order.order_id,
        transmit=transmit,
        parentId=parent_broker_order_id,
        ocaGroup=order.oca_group,
        ocaType=1 if order.oca_group else 0,
    )
    if terms.order_type is enums.OrderType.TRAILING_STOP:
        ib.auxPrice = _price(terms.trailing_amount)
        ib.trailingPercent = _price(terms.trailing_percent)
        ib.trailStopPrice = _price(terms.stop_price)
    else:
        ib.lmtPrice = _price(terms.limit_price)
        ib.auxPrice = _price(terms.stop_price)
    return ib


def status_report(trade: Trade) -> BrokerOrderStatus | None:
    """The domain report for a trade's current status; None for a status that is not one
    (ib_async's ValidationError marks a warning on a live order)."""
    raw = trade.orderStatus.status
    reason = trade.orderStatus.whyHeld
    if raw == OrderStatus.PreSubmitted and not reason:
        reason = "held by IB until its trigger, its parent's fill or the market opens"
    status = _STATUSES.get(raw)
    if status is None:
        return None
    last = trade.log[-1] if trade.log else None
    if status is enums.OrderStatus.CANCELLED and last is not None and last.errorCode:
        # ib_async marks a rejected order Cancelled locally; IB's error code says which it was.
        if last.errorCode in ORDER_REJECTIONS:
            status = enums.OrderStatus.REJECTED
            reason = last.message
        elif last.errorCode in ORDER_CANCELLED:
            reason = last.message
    return BrokerOrderStatus(
        broker_order_id=trade.order.orderId,
        perm_id=trade.order.permId or trade.orderStatus.permId,
        order_ref=trade.order.orderRef,
        status=status,
        filled_quantity=decimal_of(trade.orderStatus.filled) or Decimal(0),
        remaining_quantity=decimal_of(trade.orderStatus.remaining) or Decimal(0),
        average_fill_price=decimal_of(trade.orderStatus.avgFillPrice) or None,
        reason=reason,
    )


def execution_report(trade: Trade | None, fill: Fill) -> BrokerExecution:
    execution: Execution = fill.execution
    report: CommissionReport = fill.commissionReport
    has_commission = bool(report.execId)
    time = execution.time if isinstance(execution.time, datetime) else datetime.now(UTC)
    return BrokerExecution(
        execution_id=execution.execId,
        broker_order_id=execution.orderId,
        perm_id=execution.permId,
        order_ref=execution.orderRef or (trade.order.orderRef if trade else ""),
        account=execution.acctNumber,
        contract=contract_spec(fill.contract),
        side=enums.Side.BUY if execution.side == "BOT" else enums.Side.SELL,
        quantity=decimal_of(execution.shares) or Decimal(0),
        price=decimal_of(execution.price) or Decimal(0),
        cumulative_quantity=decimal_of(execution.cumQty) or Decimal(0),
        average_price=decimal_of(execution.avgPrice),
        exchange=execution.exchange,
        execution_time=time.astimezone(UTC),
        commission=decimal_of(report.commission) if has_commission else None,
        commission_currency=report.currency if has_commission else "",
        realized_pnl=decimal_of(report.realizedPNL) if has_commission else None,
    )


def commission_report(report: CommissionReport) -> BrokerCommission:
    return BrokerCommission(
        execution_id=report.execId,
        commission=decimal_of(report.commission) or Decimal(0),
        currency=report.currency,
        realized_pnl=decimal_of(report.realizedPNL),
    )
