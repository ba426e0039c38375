"""Options as the domain describes them: greeks, the chains IB lists, and a chain window."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight, SecurityType

# The most strikes one chain stream follows: 20 a side and the one at the money, two options
# each, and the underlying make 83 lines, within IB's default allowance of 100.
MAXIMUM_STRIKES_PER_SIDE = 20
MAXIMUM_WINDOW_STRIKES = 2 * MAXIMUM_STRIKES_PER_SIDE + 1
DEFAULT_STRIKES_PER_SIDE = 5
# The underlyings IB lists options on: stocks and ETFs, futures (FOP) and indices.
UNDERLYING_TYPES = frozenset({SecurityType.STOCK, SecurityType.FUTURE, SecurityType.INDEX})


@dataclass(frozen=True, slots=True)
class OptionGreeks:
    """IB's option model for one option; None where IB has not computed a value."""

    implied_volatility: Decimal | None = None
    delta: Decimal | None = None
    gamma: Decimal | None = None
    vega: Decimal | None = None
    theta: Decimal | None = None
    underlying_price: Decimal | None = None
    option_price: Decimal | None = None
    bid_implied_volatility: Decimal | None = None
    ask_implied_volatility: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OptionChain:
    """The options IB lists on one exchange under one trading class (reqSecDefOptParams)."""

    exchange: str
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]
    strikes: tuple[Decimal, ...]
    underlying_con_id: int


@dataclass(frozen=True, slots=True)
class StrikeRange:
    minimum: Decimal
    maximum: Decimal


@dataclass(frozen=True, slots=True)
class ChainWindowRequest:
    """Which options of an expiration a chain stream follows: `strikes_per_side` around the
    money, or every listed strike of `strike_range`."""

    underlying: ContractSpec
    expiration: str
    exchange: str = ""
    trading_class: str = ""
    strikes_per_side: int = DEFAULT_STRIKES_PER_SIDE
    strike_range: StrikeRange | None = None
    right: OptionRight = OptionRight.NONE


@dataclass(frozen=True, slots=True)
class ChainStrike:
    strike: Decimal
    call: ContractSpec | None
    put: ContractSpec | None


@dataclass(frozen=True, slots=True)
class ChainWindow:
    """The options a chain stream follows, lowest strike first."""

    underlying: ContractSpec
    expiration: str
    exchange: str
    trading_class: str
    multiplier: str
    strikes: tuple[ChainStrike, ...]
    reference_price: Decimal | None = None
    at_the_money_strike: Decimal | None = None

    def contracts_nearest_first(self) -> list[ContractSpec]:
        """Every option of the window, the strikes nearest the money first (calls before puts
        at a strike): the order their lines are opened in."""
        middle = self.at_the_money_strike
        if middle is None and self.strikes:
            middle = (self.strikes[0].strike + self.strikes[-1].strike) / 2
        ordered = sorted(self.strikes, key=lambda row: abs(row.strike - (middle or 0)))
        return [
            contract for row in ordered for contract in (row.call, row.put) if contract is not None
        ]


def select_strikes(
    strikes: list[Decimal], reference: Decimal, per_side: int
) -> tuple[Decimal, list[Decimal]]:
    """The listed strike nearest `reference` (the lower one on a tie) and `per_side` strikes on
    each side of it, lowest first; fewer where the chain ends."""
    ordered = sorted(set(strikes))
    if not ordered:
        return reference, []
    middle = min(range(len(ordered)), key=lambda index: (abs(ordered[index] - reference), index))
    low = max(0, middle - per_side)
    return ordered[middle], ordered[low : middle + per_side + 1]
