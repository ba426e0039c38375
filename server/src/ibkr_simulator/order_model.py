"""Orders as the simulated gateway holds them, and the parsing of a placeOrder request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ibkr_simulator.combos import BAG, Combo, OrderLegs, read_order_legs
from ibkr_simulator.contracts import ContractQuery, ContractSpec
from ibkr_simulator.wire import FieldReader


class OrderStatusName:
    """The status strings IB reports in orderStatus."""

    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    PENDING_CANCEL = "PendingCancel"
    CANCELLED = "Cancelled"
    FILLED = "Filled"
    INACTIVE = "Inactive"


DONE_STATUSES = frozenset({OrderStatusName.CANCELLED, OrderStatusName.FILLED})

MARKET = "MKT"
LIMIT = "LMT"
STOP = "STP"
STOP_LIMIT = "STP LMT"
TRAIL = "TRAIL"
SUPPORTED_ORDER_TYPES = frozenset({MARKET, LIMIT, STOP, STOP_LIMIT, TRAIL})
SUPPORTED_TIME_IN_FORCE = frozenset({"DAY", "GTC", "IOC", "FOK", "GTD"})


@dataclass(frozen=True)
class OrderRequest:
    """The fields of placeOrder that the simulator acts on; the rest are read and ignored."""

    order_id: int
    contract: ContractQuery
    action: str
    total_quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    time_in_force: str
    oca_group: str
    oca_type: int
    account: str
    order_reference: str
    transmit: bool
    parent_id: int
    outside_regular_hours: bool
    good_till_date: str
    trail_stop_price: float | None
    trailing_percent: float | None
    # A what-if request: answered with margin and commission estimates, never placed.
    what_if: bool = False
    # A combination (BAG): its legs, per-leg prices and routing params.
    combo_legs: OrderLegs | None = None


def read_place_order(reader: FieldReader, version: int) -> OrderRequest:
    """Walk placeOrder as ib_async writes it (client.py placeOrder) up to the trailing fields."""
    reader.pass_over(1)  # message id
    order_id = reader.integer()
    contract = ContractQuery.read(reader)
    reader.pass_over(2)  # secIdType, secId
    action = reader.text().upper()
    total_quantity = reader.decimal()
    order_type = reader.text().upper()
    limit_price = reader.optional_decimal()
    aux_price = reader.optional_decimal()
    time_in_force = reader.text().upper() or "DAY"
    oca_group = reader.text()
    account = reader.text()
    reader.pass_over(2)  # openClose, origin
    order_reference = reader.text()
    transmit = reader.flag()
    parent_id = reader.integer()
    reader.pass_over(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_regular_hours = reader.flag()
    reader.pass_over(1)  # hidden
    combo_legs = read_order_legs(reader) if contract.sec_type == BAG else None
    # sharesAllocation, discretionaryAmt, goodAfterTime
    reader.pass_over(3)
    good_till_date = reader.text()
    reader.pass_over(3)  # faGroup, faMethod, faPercentage
    if version < 177:
        reader.pass_over(1)  # faProfile
    reader.pass_over(4)  # modelCode, shortSaleSlot, designatedLocation, exemptCode
    oca_type = reader.integer()
    # rule80A .. volatilityType: 17 fields
    reader.pass_over(17)
    delta_neutral_order_type = reader.text()
    reader.pass_over(1)  # deltaNeutralAuxPrice
    if delta_neutral_order_type:
        reader.pass_over(8)
    reader.pass_over(2)  # continuousUpdate, referencePriceType
    trail_stop_price = reader.optional_decimal()
    trailing_percent = reader.optional_decimal()
    what_if = _read_what_if(reader)
    return OrderRequest(
        order_id=order_id,
        contract=contract,
        action=action,
        total_quantity=total_quantity,
        order_type=order_type,
        limit_price=limit_price,
        aux_price=aux_price,
        time_in_force=time_in_force,
        oca_group=oca_group,
        oca_type=oca_type,
        account=account,
        order_reference=order_reference,
        transmit=transmit,
        parent_id=parent_id,
        outside_regular_hours=outside_regular_hours,
        good_till_date=good_till_date,
        trail_stop_price=trail_stop_price,
        trailing_percent=trailing_percent,
        what_if=what_if,
        combo_legs=combo_legs,
    )


def _read_what_if(reader: FieldReader) -> bool:
    """Walk the variable blocks between trailingPercent and whatIf (client.py placeOrder)."""
    reader.pass_over(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = reader.optional_decimal()
    if increment is not None and increment > 0:
        reader.pass_over(7)  # the scale block
    reader.pass_over(3)  # scaleTable, activeStartTime, activeStopTime
    if reader.text():  # hedgeType
        reader.pass_over(1)  # hedgeParam
    reader.pass_over(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if reader.flag():  # delta-neutral contract
        reader.pass_over(3)
    if reader.text():  # algoStrategy
        reader.pass_over(2 * reader.integer())
    reader.pass_over(1)  # algoId
    return reader.flag()


@dataclass
class SimulatedOrder:
    """One order's full state inside the gateway; it outlives the connection that placed it."""

    client_id: int
    order_id: int
    perm_id: int
    account: str
    contract: ContractSpec
    action: str
    total_quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    time_in_force: str
    oca_group: str
    oca_type: int
    order_reference: str
    parent_id: int
    outside_regular_hours: bool
    good_till_date: str
    trailing_percent: float | None
    trail_stop_price: float | None
    placed_at: dt.datetime
    # Held until a leg with transmit=1 arrives for its bracket (ib_async's bracketOrder).
    transmitted: bool = False
    status: str = OrderStatusName.PRE_SUBMITTED
    filled: float = 0.0
    average_fill_price: float = 0.0
    last_fill_price: float = 0.0
    # Stops and trails become active market or limit orders once triggered.
    triggered: bool = False
    # Best price seen since a trailing stop was placed: highest for a sell, lowest for a buy.
    trail_extreme: float | None = None
    completed_at: dt.datetime | None = None
    completed_reason: str = ""
    parent_perm_id: int = 0
    fills: list[str] = field(default_factory=list)
    # The size an OCA group's proportional reductions are measured against: the quantity the
    # client last asked for (IB reduces the rest "in proportion to the fraction executed").
    oca_basis: float = 0.0
    # Commission charged over the executions so far: IB's minimum is per order, not per fill.
    commission_charged: float = 0.0
    # A combination order: its legs (the contract is the BAG) and the per-leg prices it sent.
    combo: Combo | None = None
    leg_prices: tuple[float | None, ...] = ()

    @property
    def is_buy(self) -> bool:
        return self.action == "BUY"

    @property
    def remaining(self) -> float:
        return max(0.0, self.total_quantity - self.filled)

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def is_working(self) -> bool:
        return self.transmitted and not self.is_done
