"""Combination (multi-leg) orders: how IB names the combination, and what one can lose.

IB trades a combination as one BAG contract whose legs name each instrument by conId with a
ratio and a side (https://interactivebrokers.github.io/tws-api/spread_contracts.html); it gives
every such contract the conId 28812380, its localSymbol that number and its tradingClass "COMB"
(a recorded OpenOrder of a combo in ib-ruby/ib-ruby's message specs).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight, SecurityType, Side
from ibkr_grpc.domain.orders import ComboLeg

COMBINATION_CON_ID = 28812380
COMBINATION_TRADING_CLASS = "COMB"
MINIMUM_LEGS = 2
MAXIMUM_LEGS = 8
# By value: options on stocks and on futures.
_OPTION_TYPES = frozenset({"OPTION", "FUTURE_OPTION"})


def combination_contract(legs: Sequence[ComboLeg]) -> ContractSpec:
    """The combination's own contract, named after its legs (qualified, so their symbols are
    known). Its security type is the legs' when they share one."""
    first = legs[0].contract
    kinds = {leg.contract.security_type for leg in legs}
    return ContractSpec(
        symbol=first.symbol,
        security_type=kinds.pop() if len(kinds) == 1 else SecurityType.STOCK,
        exchange="SMART",
        currency=first.currency,
        con_id=COMBINATION_CON_ID,
        local_symbol=str(COMBINATION_CON_ID),
        trading_class=COMBINATION_TRADING_CLASS,
    )


def leg_sign(leg: ComboLeg, order_side: Side) -> int:
    """+1 when the order buys this leg, -1 when it sells it."""
    return 1 if (leg.side is Side.BUY) == (order_side is Side.BUY) else -1


def multiplier_of(contract: ContractSpec) -> Decimal:
    try:
        return Decimal(contract.multiplier) if contract.multiplier else Decimal(1)
    except ArithmeticError:
        return Decimal(1)


def _payoff(legs: Sequence[ComboLeg], side: Side, price: Decimal) -> Decimal:
    total = Decimal(0)
    for leg in legs:
        strike = leg.contract.strike or Decimal(0)
        if leg.contract.right is OptionRight.CALL:
            intrinsic = max(Decimal(0), price - strike)
        else:
            intrinsic = max(Decimal(0), strike - price)
        total += leg_sign(leg, side) * leg.ratio * intrinsic
    return total


def maximum_loss(
    legs: Sequence[ComboLeg], side: Side, quantity: Decimal, net_price: Decimal | None
) -> Decimal | None:
    """The most `quantity` combinations can lose at expiry, premium included (`net_price` per
    unit: positive paid, negative received), or None when the loss is unbounded or not known:
    legs that are not all options of one underlying symbol and one expiry, a short call not
    covered by a long one, or no net price (a market order).

    The payoff of option legs at expiry is piecewise linear in the underlying's price with kinks
    at the strikes, so its minimum is at a strike, at zero, or beyond the highest strike, where
    it keeps falling exactly when more calls are sold than bought.
    """
    if net_price is None or not legs:
        return None
    if any(leg.contract.security_type.value not in _OPTION_TYPES for leg in legs):
        return None
    series = {(leg.contract.symbol, leg.contract.last_trade_date_or_contract_month) for leg in legs}
    if len(series) != 1:
        return None
    calls_net = sum(
        leg_sign(leg, side) * leg.ratio for leg in legs if leg.contract.right is OptionRight.CALL
    )
    if calls_net < 0:
        return None
    prices = {Decimal(0)} | {leg.contract.strike or Decimal(0) for leg in legs}
    worst_payoff = min(_payoff(legs, side, price) for price in prices)
    unit_loss = net_price - worst_payoff
    return max(Decimal(0), unit_loss) * multiplier_of(legs[0].contract) * quantity


def uncovered_short_options(
    legs: Sequence[ComboLeg], side: Side, quantity: Decimal, held: dict[int, Decimal]
) -> list[ComboLeg]:
    """Short option legs that neither the combination nor a held position covers.

    Within the combination a short call is covered by long calls and a short put by long puts
    of the same underlying and expiry (then the loss is that of a spread); outside it, by a held
    long position in the same contract that the short leg would close. `held` is the signed
    position by conId.
    """
    uncovered: list[ComboLeg] = []
    for right in (OptionRight.CALL, OptionRight.PUT):
        same = [
            leg
            for leg in legs
            if leg.contract.security_type.value in _OPTION_TYPES and leg.contract.right is right
        ]
        short = [leg for leg in same if leg_sign(leg, side) < 0]
        long_ratio = sum(leg.ratio for leg in same if leg_sign(leg, side) > 0)
        for leg in short:
            closes = held.get(leg.contract.con_id, Decimal(0))
            needed = leg.ratio * quantity
            covered_by_legs = min(Decimal(long_ratio) * quantity, needed)
            long_ratio = max(0, long_ratio - leg.ratio)
            if covered_by_legs + max(Decimal(0), closes) < needed:
                uncovered.append(leg)
    return uncovered
