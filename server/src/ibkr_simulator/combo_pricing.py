"""Prices of a combination from its legs' books: its quote, and where a combo order executes.

A combination's price is the net of its legs' prices: each times its ratio, added for a leg the
combination buys and subtracted for one it sells (IB's Spreads page,
https://interactivebrokers.github.io/tws-api/spread_contracts.html, defines the legs by conId,
ratio and action). It is negative when the combination takes in more than it pays out (a
credit). Buying the combination buys its BUY legs at their offers and sells its SELL legs at
their bids, so its ask is built from those prices and its bid from the opposite ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ibkr_simulator.combos import Combo, ComboLeg
from ibkr_simulator.quotes import Quote

QuoteOf = Callable[[int], Quote]
# Slack for float division of sizes and comparisons of prices.
_EPSILON = 1e-9


def _weighted(legs: tuple[ComboLeg, ...], price_of: Callable[[ComboLeg], float]) -> float:
    return round(sum(leg.sign * leg.ratio * price_of(leg) for leg in legs), 10)


def combo_quote(combo: Combo, quote_of: QuoteOf) -> Quote:
    """The combination's top of book and statistics from its legs' quotes now."""
    legs = combo.legs
    quotes = {leg.contract.con_id: quote_of(leg.contract.con_id) for leg in legs}

    def side(leg: ComboLeg, *, buying: bool) -> float:
        quote = quotes[leg.contract.con_id]
        # Buying the combination pays the offer of a leg it buys and gets the bid of one it sells.
        return quote.ask if leg.is_buy == buying else quote.bid

    def size(leg: ComboLeg, *, buying: bool) -> float:
        quote = quotes[leg.contract.con_id]
        shown = quote.ask_size if leg.is_buy == buying else quote.bid_size
        return math.floor(shown / leg.ratio + _EPSILON)

    last_sizes = [
        math.floor(quotes[leg.contract.con_id].last_size / leg.ratio + _EPSILON) for leg in legs
    ]
    return Quote(
        bid=_weighted(legs, lambda leg: side(leg, buying=False)),
        ask=_weighted(legs, lambda leg: side(leg, buying=True)),
        bid_size=float(min(size(leg, buying=False) for leg in legs)),
        ask_size=float(min(size(leg, buying=True) for leg in legs)),
        last=_weighted(legs, lambda leg: quotes[leg.contract.con_id].last),
        last_size=float(min(last_sizes)),
        volume=0.0,
        high=_weighted(legs, lambda leg: quotes[leg.contract.con_id].high),
        low=_weighted(legs, lambda leg: quotes[leg.contract.con_id].low),
        open=_weighted(legs, lambda leg: quotes[leg.contract.con_id].open),
        close=_weighted(legs, lambda leg: quotes[leg.contract.con_id].close),
        traded=all(quote.traded for quote in quotes.values()),
        step=max(quote.step for quote in quotes.values()),
    )


def net_price(combo: Combo, prices: dict[int, float]) -> float:
    """The combination's price for one price per leg (by conId)."""
    return _weighted(combo.legs, lambda leg: prices[leg.contract.con_id])


def leg_buys(leg: ComboLeg, *, combo_buy: bool) -> bool:
    """Whether this leg is bought when the combination is bought (True) or sold (False)."""
    return leg.is_buy == combo_buy


@dataclass(frozen=True)
class LegTouch:
    """Where one leg would execute now: the touch price of the side it takes and its size."""

    leg: ComboLeg
    buy: bool
    price: float
    size: float


def marketable_units(touches: list[LegTouch]) -> int:
    """How many whole combinations the legs' touches can fill together."""
    return min(math.floor(touch.size / touch.leg.ratio + _EPSILON) for touch in touches)


def within_limit(net: float, limit: float | None, *, combo_buy: bool) -> bool:
    """A bought combination takes a net price at or below its limit, a sold one at or above."""
    if limit is None:
        return True
    return net <= limit + _EPSILON if combo_buy else net >= limit - _EPSILON
