"""Domain values to ib_async objects and back. Pure functions; no I/O."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

from ib_async import Bag, ComboLeg, Contract, Execution, Order, OrderStatus, Trade
from ib_async.objects import CommissionReport, Fill
from ib_async.util import UNSET_DOUBLE

from ibkr_grpc.domain import enums
from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderStatus,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.orders import Order as DomainOrder
from ibkr_grpc.domain.orders import OrderTerms

SECURITY_TYPES = {
    enums.SecurityType.STOCK: "STK",
    enums.SecurityType.FOREX: "CASH",
    enums.SecurityType.FUTURE: "FUT",
    enums.SecurityType.OPTION: "OPT",
    enums.SecurityType.INDEX: "IND",
    enums.SecurityType.CFD: "CFD",
    enums.SecurityType.CRYPTO: "CRYPTO",
    enums.SecurityType.FUTURE_OPTION: "FOP",
    enums.SecurityType.CONTINUOUS_FUTURE: "CONTFUT",
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
_ORDER_TYPES_BACK = {code: kind for kind, code in ORDER_TYPES.items()}
ACTIONS = {enums.Side.BUY: "BUY", enums.Side.SELL: "SELL"}
# IB's OCA type 3: "remaining orders are proportionately reduced in size with no block"
# (https://interactivebrokers.github.io/tws-api/oca.html).
_BRACKET_OCA_TYPE = 3
_TIMES_IN_FORCE_BACK = {tif.value: tif for tif in enums.TimeInForce}
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


# IB's secType of a combination contract (https://interactivebrokers.github.io/tws-api/spread_contracts.html).
COMBINATION_SECURITY_TYPE = "BAG"


def order_contract(order: DomainOrder) -> Contract:
    """The contract an order is placed on: its instrument, or for a combination a BAG whose
    legs name each instrument by conId with its ratio and side (ib_async writes them into
    placeOrder: client.py)."""
    if not order.combo_legs:
        return ib_contract(order.contract)
    return Bag(  # type: ignore[no-untyped-call]  # ib_async's Contract subclasses are untyped
        symbol=order.contract.symbol,
        exchange=order.contract.exchange or "SMART",
        currency=order.contract.currency,
        comboLegs=[
            ComboLeg(
                conId=leg.contract.con_id,
                ratio=leg.ratio,
                action=ACTIONS[leg.side],
                exchange=leg.contract.exchange or "SMART",
            )
            for leg in order.combo_legs
        ],
    )


def is_combination(contract: Contract) -> bool:
    return contract.secType == COMBINATION_SECURITY_TYPE


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
        # A bracket's exit legs reduce each other by what executes (type 3), as IB's own
        # brackets do (a published gateway log shows the stop leg with ocaGroup = the parent's
        # permId and ocaType=3): with type 1 a take-profit filling 100 of 300 would cancel the
        # stop and leave 200 unprotected.
        ocaType=_BRACKET_OCA_TYPE if order.oca_group else 0,
    )
    if terms.order_type is enums.OrderType.TRAILING_STOP:
        ib.auxPrice = _price(terms.trailing_amount)
        ib.trailingPercent = _price(terms.trailing_percent)
        ib.trailStopPrice = _price(terms.stop_price)
    else:
        ib.lmtPrice = _price(terms.limit_price)
        ib.auxPrice = _price(terms.stop_price)
    return ib


def set_by_error(trade: Trade) -> bool:
    """Whether the trade's status was set by ib_async itself on an IB error (it marks a trade
    Cancelled on any error that is not a warning), rather than reported by IB."""
    last = trade.log[-1] if trade.log else None
    return (
        trade.orderStatus.status == OrderStatus.Cancelled
        and last is not None
        and last.errorCode != 0
        and last.status == OrderStatus.Cancelled
    )


def status_report(trade: Trade) -> BrokerOrderStatus | None:
    """The domain report for a trade's current status as IB reported it; None for a status
    that is not IB's word: ib_async's ValidationError (a warning on a live order) and the
    Cancelled it sets on an error (the error itself is reported as a BrokerOrderMessage)."""
    raw = trade.orderStatus.status
    reason = trade.orderStatus.whyHeld
    if raw == OrderStatus.PreSubmitted and not reason:
        reason = "held by IB until its trigger, its parent's fill or the market opens"
    status = _STATUSES.get(raw)
    if status is None or set_by_error(trade):
        return None
    return BrokerOrderStatus(
        broker_order_id=trade.order.orderId,
        perm_id=trade.order.permId or trade.orderStatus.permId,
        order_ref=trade.order.orderRef,
        client_id=trade.order.clientId or trade.orderStatus.clientId,
        status=status,
        filled_quantity=decimal_of(trade.orderStatus.filled) or Decimal(0),
        remaining_quantity=decimal_of(trade.orderStatus.remaining) or Decimal(0),
        average_fill_price=decimal_of(trade.orderStatus.avgFillPrice) or None,
        reason=reason,
    )


def order_terms(order: Order) -> OrderTerms | None:
    """The terms of an order as IB describes it; None for a type or time in force the service
    does not model (IB's REL, MOC, GTD and the like)."""
    order_type = _ORDER_TYPES_BACK.get(order.orderType)
    time_in_force = _TIMES_IN_FORCE_BACK.get(order.tif or "DAY")
    quantity = decimal_of(order.totalQuantity)
    if order_type is None or time_in_force is None or quantity is None:
        return None
    trailing = order_type is enums.OrderType.TRAILING_STOP
    # Only the prices the type has: IB may send 0 or unset for the others.
    limited = order_type in {enums.OrderType.LIMIT, enums.OrderType.STOP_LIMIT}
    stopped = order_type in {enums.OrderType.STOP, enums.OrderType.STOP_LIMIT}
    return OrderTerms(
        side=enums.Side.BUY if order.action == "BUY" else enums.Side.SELL,
        quantity=quantity,
        order_type=order_type,
        limit_price=decimal_of(order.lmtPrice) if limited else None,
        stop_price=decimal_of(order.trailStopPrice if trailing else order.auxPrice)
        if stopped or trailing
        else None,
        trailing_amount=decimal_of(order.auxPrice) if trailing else None,
        trailing_percent=decimal_of(order.trailingPercent) if trailing else None,
        time_in_force=time_in_force,
        outside_regular_hours=order.outsideRth,
    )


def open_order_report(trade: Trade, own_client_id: int) -> BrokerOpenOrder:
    """IB's description of an order (openOrder). An order id of 0 or below marks an order
    placed by hand in TWS or the app (ib_async keys those by permId: wrapper.orderKey)."""
    order = trade.order
    if order.orderId > 0 and order.clientId == own_client_id:
        origin = enums.OrderOrigin.THIS_SERVER
    elif order.orderId <= 0:
        origin = enums.OrderOrigin.MANUAL
    else:
        origin = enums.OrderOrigin.OTHER_API_CLIENT
    return BrokerOpenOrder(
        broker_order_id=order.orderId,
        perm_id=order.permId,
        order_ref=order.orderRef,
        client_id=order.clientId,
        account=order.account,
        contract=contract_spec(trade.contract),
        terms=order_terms(order),
        status=_STATUSES.get(trade.orderStatus.status),
        origin=origin,
        parent_broker_order_id=order.parentId,
        oca_group=order.ocaGroup,
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
        client_id=execution.clientId,
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
