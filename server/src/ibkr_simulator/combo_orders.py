"""Combination (BAG) orders: term checks, margin and what-if estimates, and all-legs-together fills.

A combo order executes whole combinations only: every leg at its own touch price, in its ratio,
at once, and only while the net of those prices is within the order's limit (a bought
combination at or below it, a sold one at or above it). The legs' books are the liquidity
model's, so a combination fills as many whole units as its thinnest leg shows.

IB reports a combo fill per leg and for the combination: execDetails for each leg (the leg's
conId, side and price; cumQty and avgPrice "used in regular trades, combo trades and legs of the
combo", IB's Execution class,
https://interactivebrokers.github.io/tws-api/classIBApi_1_1Execution.html) and one for the BAG
contract at the net price (gateway users filter "the BAG contract's own execution at the net
price" out of reqExecutions; ib_async's wrapper notes spread contracts arrive in execDetails
without their legs). Commissions are charged on the legs, so the BAG execution's is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ibkr_simulator import codes
from ibkr_simulator.account import AccountBook, MarginPreview
from ibkr_simulator.clock import Clock, format_ib_datetime
from ibkr_simulator.combo_pricing import (
    LegTouch,
    leg_buys,
    marketable_units,
    net_price,
    within_limit,
)
from ibkr_simulator.combos import Combo, ComboLeg
from ibkr_simulator.config import FillPolicy
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.liquidity import LiquidityBook
from ibkr_simulator.order_events import ComboFilled, ExecutionRecord, status_report
from ibkr_simulator.order_model import LIMIT, MARKET, OrderRequest, OrderStatusName, SimulatedOrder
from ibkr_simulator.order_rules import (
    OFF_TICK_PRICE_TEXT,
    ZERO_SIZE_TEXT,
    OrderRejectionError,
    commission_for,
)
from ibkr_simulator.outgoing import ExecutionReport
from ibkr_simulator.prices import PriceBook, Quote

COMBO_ORDER_TYPES = frozenset({MARKET, LIMIT})
EventSink = Callable[[ComboFilled], None]


def validate_combo_terms(request: OrderRequest, combo: Combo) -> None:
    """A combo order's terms: whole units, MKT or LMT, and a net limit price on the tick grid
    that may be zero or negative (a credit)."""
    if request.action not in {"BUY", "SELL"}:
        raise OrderRejectionError(f"Invalid action {request.action!r}")
    if request.total_quantity == 0:
        raise OrderRejectionError(ZERO_SIZE_TEXT, codes.ORDER_SIZE_ZERO)
    if request.total_quantity < 0 or not float(request.total_quantity).is_integer():
        raise OrderRejectionError("A combination order needs a whole, positive quantity")
    if request.order_type not in COMBO_ORDER_TYPES:
        raise OrderRejectionError(
            f"Order type {request.order_type!r} is not supported for combinations"
        )
    if request.order_type == LIMIT:
        if request.limit_price is None:
            raise OrderRejectionError("Invalid limit price")
        ticks = request.limit_price / combo.contract.min_tick
        if abs(ticks - round(ticks)) > 1e-6:
            raise OrderRejectionError(OFF_TICK_PRICE_TEXT, codes.PRICE_OFF_TICK)


@dataclass(frozen=True)
class ComboFill:
    """Whole combinations to execute now, with each leg's side and price."""

    units: float
    touches: tuple[LegTouch, ...]
    net: float


def combo_margin(
    combo: Combo,
    accounts: AccountBook,
    account: str,
    units: float,
    price_of: Callable[[int], float],
) -> float:
    """The initial margin `units` combinations add.

    A combination whose loss is bounded (every option leg of one underlying and one expiry:
    verticals, butterflies, iron condors) is margined at its largest loss at expiry, as IB
    margins such spreads; any other is the sum of its legs' own requirements.
    """
    worst = max_loss_per_unit(combo)
    if worst is not None:
        return max(0.0, worst) * units
    total = 0.0
    for leg in combo.legs:
        signed = leg.sign * leg.ratio * units
        price = price_of(leg.contract.con_id)
        preview = accounts.margin_preview(account, leg.contract, signed, price)
        total += preview.initial_after - preview.initial_before
    return total


def max_loss_per_unit(combo: Combo) -> float | None:
    """The largest loss at expiry of one combination before its premium (None: unbounded or
    not an option spread of one underlying and one expiry). Positive is a loss."""
    legs = combo.legs
    if not all(leg.contract.is_option for leg in legs):
        return None
    underlyings = {(leg.contract.underlying_con_id, leg.contract.last_trade_date) for leg in legs}
    if len(underlyings) != 1:
        return None
    slope_above = sum(
        leg.sign * leg.ratio for leg in legs if leg.contract.right == "C"
    )  # payoff slope past the highest strike
    if slope_above < 0:
        return None
    strikes = sorted({leg.contract.strike for leg in legs} | {0.0})
    multiplier = legs[0].contract.value_multiplier
    payoffs = [_payoff_at(legs, price) for price in strikes]
    return -min(payoffs) * multiplier


def _payoff_at(legs: tuple[ComboLeg, ...], price: float) -> float:
    total = 0.0
    for leg in legs:
        strike = leg.contract.strike
        intrinsic = (
            max(0.0, price - strike) if leg.contract.right == "C" else max(0.0, strike - price)
        )
        total += leg.sign * leg.ratio * intrinsic
    return total


class ComboMatcher:
    """Fills combo orders against their legs' books and books every leg in the account."""

    def __init__(
        self,
        prices: PriceBook,
        accounts: AccountBook,
        liquidity: LiquidityBook,
        policy: Callable[[], FillPolicy],
        clock: Clock,
        executions: list[ExecutionRecord],
    ) -> None:
        self._prices = prices
        self._accounts = accounts
        self._liquidity = liquidity
        self._policy = policy
        self._clock = clock
        self._executions = executions

    def estimate(self, order: SimulatedOrder) -> tuple[MarginPreview, float]:
        """What-if: the margin the combination adds and the commission of its legs."""
        combo = _combo_of(order)
        before = self._accounts.totals(order.account)
        added = combo_margin(
            combo, self._accounts, order.account, order.total_quantity, self._midpoint
        )
        preview = MarginPreview(
            initial_before=before.initial_margin,
            maintenance_before=before.maintenance_margin,
            equity_with_loan_before=before.net_liquidation,
            initial_after=before.initial_margin + added,
            maintenance_after=before.maintenance_margin + added,
            equity_with_loan_after=before.net_liquidation,
        )
        commission = 0.0
        for leg in combo.legs:
            quote = self._prices.quote(leg.contract.con_id)
            quantity = leg.ratio * order.total_quantity
            commission += commission_for(self._policy(), leg.contract, quantity, quote.midpoint)
        return preview, round(commission, 4)

    def _midpoint(self, con_id: int) -> float:
        return self._prices.quote(con_id).midpoint

    def plan(self, order: SimulatedOrder, quote_of: Callable[[int], Quote]) -> ComboFill | None:
        """The whole combinations the legs' books fill now within the limit, or None."""
        combo = _combo_of(order)
        touches: list[LegTouch] = []
        for leg in combo.legs:
            buy = leg_buys(leg, combo_buy=order.is_buy)
            levels = self._liquidity.available(
                quote_of(leg.contract.con_id), leg.contract, buy=buy, limit=None
            )
            if not levels:
                return None
            touches.append(LegTouch(leg, buy, levels[0].price, levels[0].size))
        net = net_price(combo, {touch.leg.contract.con_id: touch.price for touch in touches})
        limit = order.limit_price if order.order_type == LIMIT else None
        if not within_limit(net, limit, combo_buy=order.is_buy):
            return None
        units = float(min(order.remaining, marketable_units(touches)))
        partial = self._policy().partial_fill_quantity
        if partial is not None and order.time_in_force != "FOK":
            units = float(min(units, max(1, int(partial))))
        if units <= 0:
            return None
        return ComboFill(units, tuple(touches), net)

    def execute(self, order: SimulatedOrder, fill: ComboFill, perm_serial: int) -> ComboFilled:
        """Book every leg of `fill.units` combinations and report them as IB does."""
        time = format_ib_datetime(self._clock())
        leg_records: list[ExecutionRecord] = []
        policy = self._policy()
        for index, touch in enumerate(fill.touches, start=1):
            leg = touch.leg
            quantity = leg.ratio * fill.units
            self._liquidity.take(leg.contract, buy=touch.buy, price=touch.price, quantity=quantity)
            commission = commission_for(policy, leg.contract, quantity, touch.price)
            realized = self._accounts.apply_fill(
                order.account,
                leg.contract,
                buy=touch.buy,
                quantity=quantity,
                price=touch.price,
                commission=commission,
            )
            order.commission_charged += commission
            before = [
                record.report
                for record in self._executions
                if record.report.perm_id == order.perm_id
                and record.report.contract.con_id == leg.contract.con_id
            ]
            cumulative = sum(report.shares for report in before) + quantity
            paid = sum(report.shares * report.price for report in before) + quantity * touch.price
            report = _report(
                order,
                f"{order.perm_id:08x}.{perm_serial:08x}.{index:02d}.01",
                time,
                leg.contract,
                buy=touch.buy,
                execution=(quantity, touch.price),
                cumulative=(cumulative, round(paid / cumulative, 10)),
            )
            leg_records.append(ExecutionRecord(report, commission, leg.contract.currency, realized))
        previous = order.filled * order.average_fill_price
        order.filled += fill.units
        order.average_fill_price = round((previous + fill.units * fill.net) / order.filled, 10)
        order.last_fill_price = fill.net
        if order.remaining <= 1e-9:
            order.status = OrderStatusName.FILLED
            order.completed_at = self._clock()
            order.completed_reason = "Filled Size: " + str(order.filled)
        else:
            order.status = OrderStatusName.SUBMITTED
        combo_report = _report(
            order,
            f"{order.perm_id:08x}.{perm_serial:08x}.00.01",
            time,
            order.contract,
            buy=order.is_buy,
            execution=(fill.units, fill.net),
            cumulative=(order.filled, order.average_fill_price),
        )
        combo_record = ExecutionRecord(combo_report, 0.0, order.contract.currency, None)
        order.fills += [record.report.execution_id for record in leg_records]
        order.fills.append(combo_report.execution_id)
        self._executions += [*leg_records, combo_record]
        return ComboFilled(order, status_report(order), tuple(leg_records), combo_record)


def _combo_of(order: SimulatedOrder) -> Combo:
    if order.combo is None:
        raise ValueError(f"order {order.order_id} is not a combination")
    return order.combo


def _report(
    order: SimulatedOrder,
    execution_id: str,
    time: str,
    contract: ContractSpec,
    *,
    buy: bool,
    execution: tuple[float, float],
    cumulative: tuple[float, float],
) -> ExecutionReport:
    """execDetails of one leg or of the combination: (shares, price) of this execution and
    (cumQty, avgPrice) of that contract in the order so far."""
    return ExecutionReport(
        execution_id=execution_id,
        order_id=order.order_id,
        client_id=order.client_id,
        perm_id=order.perm_id,
        account=order.account,
        contract=contract,
        exchange=contract.exchange,
        time=time,
        side="BOT" if buy else "SLD",
        shares=execution[0],
        price=execution[1],
        cumulative_quantity=cumulative[0],
        average_price=cumulative[1],
        order_reference=order.order_reference,
        # 2: removed liquidity, as every order that takes the book here.
        last_liquidity=2,
    )
