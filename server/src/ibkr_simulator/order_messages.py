"""openOrder and completedOrder: the two long order messages, laid out as ib_async decodes them.

Unused fields go out empty, which ib_async parses back to each field's default. The fields
that steer the decoder (deltaNeutralOrderType, hedgeType, algoStrategy, condition count) must
stay empty or zero, or the decoder would read past them; leg counts are exact (combos.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator.account import MarginPreview
from ibkr_simulator.clock import format_ib_datetime
from ibkr_simulator.combos import combo_order_fields
from ibkr_simulator.order_model import SimulatedOrder
from ibkr_simulator.outgoing import Message, OutgoingId, contract_terms, whole


def _contract_fields(order: SimulatedOrder) -> Message:
    contract = order.contract
    exchange = contract.exchange
    return [
        contract.con_id,
        contract.symbol,
        contract.sec_type,
        *contract_terms(contract),
        exchange,
        contract.currency,
        contract.local_symbol,
        contract.trading_class,
    ]


def _terms(order: SimulatedOrder) -> Message:
    return [
        order.action,
        whole(order.total_quantity),
        order.order_type,
        order.limit_price,
        order.aux_price,
        order.time_in_force,
        order.oca_group,
        order.account,
        "",
        0,
        order.order_reference,
    ]


@dataclass(frozen=True)
class WhatIfEstimate:
    """The OrderState estimates of a what-if answer."""

    margin: MarginPreview
    commission: float
    currency: str


def _money(value: float) -> str:
    return f"{value:.2f}"


def _order_state(estimate: WhatIfEstimate | None) -> Message:
    """The nine margin fields and the commission fields of OrderState."""
    if estimate is None:
        return ["", "", "", "", "", "", "", "", "", "", "", "", ""]
    margin = estimate.margin
    return [
        _money(margin.initial_before),
        _money(margin.maintenance_before),
        _money(margin.equity_with_loan_before),
        _money(margin.initial_after - margin.initial_before),
        _money(margin.maintenance_after - margin.maintenance_before),
        _money(margin.equity_with_loan_after - margin.equity_with_loan_before),
        _money(margin.initial_after),
        _money(margin.maintenance_after),
        _money(margin.equity_with_loan_after),
        estimate.commission,
        estimate.commission,
        estimate.commission,
        estimate.currency,
    ]


def open_order(
    version: int, order: SimulatedOrder, status: str, what_if: WhatIfEstimate | None = None
) -> Message:
    fields: Message = [OutgoingId.OPEN_ORDER, order.order_id, *_contract_fields(order)]
    fields += _terms(order)
    fields += [
        order.client_id,
        order.perm_id,
        order.outside_regular_hours,
        0,
        0.0,
        "",
        "",
        "",
        "",
        "",
    ]
    if version < 177:
        fields.append("")  # faProfile
    fields += [
        "",  # modelCode
        order.good_till_date,
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        0,  # blockOrder
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        order.oca_type,
        0,  # eTradeOnly
        0,  # firmQuoteOnly
        "",  # nbboPriceCap
        order.parent_id,
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType: must stay empty
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        order.trail_stop_price,
        order.trailing_percent,
        "",  # basisPoints
        "",  # basisPointsType
        # comboLegsDescrip, the legs, the order's leg prices, smart combo routing params
        *combo_order_fields(order.combo, order.leg_prices),
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement: empty, so no scale block follows
        "",  # hedgeType: empty, so no hedgeParam follows
        0,  # optOutSmartRouting
        "",  # clearingAccount
        "IB",  # clearingIntent
        0,  # notHeld
        0,  # delta-neutral contract present
        "",  # algoStrategy: empty, so no algo params follow
        0,  # solicited
        what_if is not None,
        status,
        *_order_state(what_if),  # margins before / change / after, commission, min, max, currency
        "",  # warningText
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions
        "",  # adjustedOrderType
        "",  # triggerPrice
        order.trail_stop_price,
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier display name
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        0,  # discretionaryUpToLimitPrice
        0,  # usePriceMgmtAlgo
    ]
    if version >= 159:
        fields.append("")  # duration
    if version >= 160:
        fields.append("")  # postToAts
    if version >= 162:
        fields.append(0)  # autoCancelParent
    if version >= 170:
        fields += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return fields


def completed_order(version: int, order: SimulatedOrder) -> Message:
    fields: Message = [OutgoingId.COMPLETED_ORDER, *_contract_fields(order)]
    fields += _terms(order)
    fields += [order.perm_id, order.outside_regular_hours, 0, 0.0, "", "", "", ""]
    if version < 177:
        fields.append("")  # faProfile
    completed_time = format_ib_datetime(order.completed_at) if order.completed_at else ""
    fields += [
        "",  # modelCode
        order.good_till_date,
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        0,  # sweepToFill
        0,  # allOrNone
        "",  # minQty
        order.oca_type,
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType: must stay empty
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        order.trail_stop_price,
        order.trailing_percent,
        # comboLegsDescrip, the legs, the order's leg prices, smart combo routing params
        *combo_order_fields(order.combo, order.leg_prices),
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "IB",  # clearingIntent
        0,  # notHeld
        0,  # delta-neutral contract present
        "",  # algoStrategy
        0,  # solicited
        order.status,
        0,  # randomizeSize
        0,  # randomizePrice
        0,  # conditions
        order.trail_stop_price,
        "",  # lmtPriceOffset
        "",  # cashQty
        0,  # dontUseAutoPriceForHedge
        0,  # isOmsContainer
        "",  # autoCancelDate
        whole(order.filled),
        0,  # refFuturesConId
        0,  # autoCancelParent
        "",  # shareholder
        0,  # imbalanceOnly
        0,  # routeMarketableToBbo
        order.parent_perm_id,
        completed_time,
        order.completed_reason or order.status,
    ]
    if version >= 170:
        fields += ["", "", "", "", ""]
    return fields
