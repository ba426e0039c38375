"""The naked short option count that max_naked_short_options limits: how many option contracts
an account could be short without cover if its working orders filled at their worst.

At its worst every working sell fills and no buy does (as for the position limit); a
combination fills all its legs or none, and counts filled. Per option contract that gives a
worst-case position. A short contract is covered by a long contract of the same underlying,
security type and right that expires no earlier (whatever the strikes, the pair's loss is then
bounded: a vertical, a calendar bought the right way round); a short call on a stock also by
shares of that stock held long, one multiplier's worth (100) per contract. A short put is not
covered by cash or by a short stock position, and a future's option not by the future: those
count as naked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ibkr_grpc.domain.combinations import leg_sign
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight, SecurityType, Side
from ibkr_grpc.domain.portfolio import Position
from ibkr_grpc.services.exposure import ZERO, ContractKey, Pending, contract_key

_OPTIONS = frozenset({SecurityType.OPTION, SecurityType.FUTURE_OPTION})


@dataclass(slots=True)
class _Series:
    """The options of one underlying, type, right and multiplier: long and short contracts at
    the worst, by expiry."""

    longs: dict[str, Decimal] = field(default_factory=dict)
    shorts: dict[str, Decimal] = field(default_factory=dict)

    def uncovered(self) -> Decimal:
        """Short contracts no long of a later or the same expiry covers. Going from the latest
        expiry back, each expiry's shorts take the longs expiring at or after it; a later short
        has fewer longs to choose from, so serving it first leaves the most cover."""
        available = uncovered = ZERO
        for expiry in sorted(self.longs.keys() | self.shorts.keys(), reverse=True):
            available += self.longs.get(expiry, ZERO)
            short = self.shorts.get(expiry, ZERO)
            used = min(available, short)
            available -= used
            uncovered += short - used
        return uncovered


def naked_short_options(positions: Sequence[Position], orders: Iterable[Pending]) -> Decimal:
    """The account's option contracts short without cover once `orders` (its working orders'
    worst-case contributions, exposure.pending) fill at their worst on top of `positions`."""
    worst: dict[ContractKey, Decimal] = {}
    contracts: dict[ContractKey, ContractSpec] = {}

    def move(contract: ContractSpec, quantity: Decimal) -> None:
        key = contract_key(contract)
        worst[key] = worst.get(key, ZERO) + quantity
        contracts.setdefault(key, contract)

    for position in positions:
        move(position.contract, position.quantity)
    for item in orders:
        order = item.order
        if order.is_combination:
            for leg in order.combo_legs:
                move(leg.contract, leg_sign(leg, order.terms.side) * leg.ratio * item.quantity)
        elif order.terms.side is Side.SELL:
            move(order.contract, -item.quantity)
    return _uncovered(worst, contracts)


def _uncovered(
    worst: dict[ContractKey, Decimal], contracts: dict[ContractKey, ContractSpec]
) -> Decimal:
    series: dict[tuple[SecurityType, str, OptionRight, Decimal], _Series] = {}
    shares: dict[str, Decimal] = {}
    for key, quantity in worst.items():
        contract = contracts[key]
        symbol = contract.symbol.upper()
        if contract.security_type is SecurityType.STOCK:
            shares[symbol] = shares.get(symbol, ZERO) + quantity
            continue
        if contract.security_type not in _OPTIONS or quantity == 0:
            continue
        kind = (contract.security_type, symbol, contract.right, contract.value_multiplier)
        one = series.setdefault(kind, _Series())
        side = one.longs if quantity > 0 else one.shorts
        expiry = contract.last_trade_date_or_contract_month
        side[expiry] = side.get(expiry, ZERO) + abs(quantity)
    total = ZERO
    for (security_type, symbol, right, multiplier), one in sorted(
        series.items(), key=lambda item: item[0]
    ):
        uncovered = one.uncovered()
        if right is OptionRight.CALL and security_type is SecurityType.OPTION and uncovered > 0:
            held = max(shares.get(symbol, ZERO), ZERO)
            covered = min(uncovered, held // multiplier)
            shares[symbol] = held - covered * multiplier
            uncovered -= covered
        total += uncovered
    return total
