"""The worst case an account could reach if its working orders filled: what the position,
gross-exposure and underlying-delta limits are checked against, so orders in flight count as much
as fills."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import BracketRole, OptionRight, SecurityType, Side
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.domain.portfolio import Position

EXIT_ROLES = frozenset({BracketRole.TAKE_PROFIT, BracketRole.STOP_LOSS})
ZERO = Decimal(0)

# A contract's identity for netting positions against orders: IB's con_id once qualified.
ContractKey = int | str
# The price to value an order at, or None when there is none.
Pricing = Callable[[Order], Decimal | None]


def contract_key(contract: ContractSpec) -> ContractKey:
    return contract.con_id or contract.symbol.upper()


@dataclass(frozen=True, slots=True)
class Pending:
    """How far one working order may still move its contract's position, in its side's
    direction."""

    order: Order
    quantity: Decimal


def pending(orders: Iterable[Order]) -> list[Pending]:
    """Each order's worst-case contribution: its remaining quantity, except for a bracket's exit
    legs. Those are one OCA group (at most one of them fills) and IB holds them until their
    parent fills, so they can only close what the parent opened: the group counts its largest
    leg's remaining quantity less what the parent still has to fill. A fresh bracket's legs so
    count nothing (the entry alone is the risk); once the entry fills they count in full; a leg
    made larger than its parent counts the excess."""
    orders = list(orders)
    by_id = {order.order_id: order for order in orders}
    groups: dict[str, list[Order]] = {}
    result: list[Pending] = []
    for order in orders:
        if order.bracket_role in EXIT_ROLES and order.parent_order_id:
            groups.setdefault(order.parent_order_id, []).append(order)
        else:
            result.append(Pending(order, order.remaining_quantity))
    for parent_id, legs in groups.items():
        largest = max(legs, key=lambda leg: leg.remaining_quantity)
        parent = by_id.get(parent_id)
        unopened = ZERO
        if parent is not None and parent.terms.side is not largest.terms.side:
            unopened = parent.remaining_quantity
        result.append(Pending(largest, max(largest.remaining_quantity - unopened, ZERO)))
    return result


@dataclass(frozen=True, slots=True)
class Reach:
    """The largest long and the largest short one contract's position could reach: every
    working buy filled, or every working sell filled. Negative when that side cannot be
    reached at all (a short of 30 with buys of 10 reaches at most -20 long)."""

    long: Decimal
    short: Decimal


def position_reach(
    positions: Sequence[Position], orders: Iterable[Pending], key: ContractKey
) -> Reach:
    held = sum((p.quantity for p in positions if contract_key(p.contract) == key), ZERO)
    buys, sells = _sides(item for item in orders if contract_key(item.order.contract) == key)
    return Reach(long=held + buys, short=sells - held)


def gross_exposure(
    positions: Sequence[Position], orders: Iterable[Pending], price: Pricing
) -> Decimal:
    """The account's gross exposure in the worst case: per contract, the larger of its value
    with every buy filled and its value with every sell filled, summed over the contracts.
    Positions count at their market value (IB's, which includes the multiplier); orders at
    `price` times the contract's multiplier (nothing when unpriced)."""
    held: dict[ContractKey, Decimal] = {}
    for position in positions:
        key = contract_key(position.contract)
        held[key] = held.get(key, ZERO) + (position.market_value or ZERO)
    buying: dict[ContractKey, Decimal] = {}
    selling: dict[ContractKey, Decimal] = {}
    for item in orders:
        key = contract_key(item.order.contract)
        side = buying if item.order.terms.side is Side.BUY else selling
        value = (price(item.order) or ZERO) * item.order.contract.value_multiplier
        side[key] = side.get(key, ZERO) + item.quantity * value
    total = ZERO
    for key in held.keys() | buying.keys() | selling.keys():
        value = held.get(key, ZERO)
        total += max(value + buying.get(key, ZERO), selling.get(key, ZERO) - value)
    return total


def _sides(orders: Iterable[Pending]) -> tuple[Decimal, Decimal]:
    buys = sells = ZERO
    for item in orders:
        if item.order.terms.side is Side.BUY:
            buys += item.quantity
        else:
            sells += item.quantity
    return buys, sells


# The delta of an option as the gateway last heard it (IB's model delta, negative for a put), or
# None when no quote of the option is held.
OptionDelta = Callable[[ContractSpec], Decimal | None]
# An option of unknown delta counts as deep in the money: the largest exposure it could carry.
WORST_DELTA = {OptionRight.CALL: Decimal(1), OptionRight.PUT: Decimal(-1)}
ONE = Decimal(1)


def underlying_key(contract: ContractSpec) -> str:
    """The underlying a contract is exposed to: its symbol, which for an option is its
    underlying's (IB's contract model) and for a future names its index or commodity."""
    return contract.symbol.upper()


def underlying_units(contract: ContractSpec, delta_of: OptionDelta) -> Decimal:
    """Delta-adjusted units of the underlying one contract long carries: a share 1, a future its
    multiplier, an option (on a stock or on a future) its multiplier x delta, at delta 1 for a
    call and -1 for a put while its delta is unknown (or outside -1 to 1). Other instruments
    (forex, CFDs, crypto, indices) carry none: the rule does not count them."""
    kind = contract.security_type
    if kind is SecurityType.STOCK:
        return ONE
    if kind is SecurityType.FUTURE:
        return contract.value_multiplier
    if kind in {SecurityType.OPTION, SecurityType.FUTURE_OPTION}:
        worst = WORST_DELTA.get(contract.right)
        if worst is None:
            return ZERO
        delta = delta_of(contract)
        if delta is None or not delta.is_finite() or abs(delta) > ONE:
            delta = worst
        return contract.value_multiplier * delta
    return ZERO


def underlying_delta_reach(
    positions: Sequence[Position],
    orders: Iterable[Pending],
    underlying: str,
    delta_of: OptionDelta,
) -> Reach:
    """The largest long and short delta-adjusted exposure to one underlying: the positions in
    it, plus every working order that adds to that side (a bought call, a sold put and a bought
    share all add to the long side) filled and none that takes from it. Orders fill
    independently, so one order never offsets another; held positions do offset each other
    (shares against short calls)."""
    held = ZERO
    for position in positions:
        if underlying_key(position.contract) == underlying:
            held += position.quantity * underlying_units(position.contract, delta_of)
    adds = takes = ZERO
    for item in orders:
        contract = item.order.contract
        if underlying_key(contract) != underlying:
            continue
        sign = ONE if item.order.terms.side is Side.BUY else -ONE
        change = sign * item.quantity * underlying_units(contract, delta_of)
        if change > 0:
            adds += change
        else:
            takes -= change
    return Reach(long=held + adds, short=takes - held)
