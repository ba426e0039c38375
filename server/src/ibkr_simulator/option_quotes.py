"""Option quotes priced from the underlying: the model value on the smile, a book around it, trades.

Options are not stepped on their own. Each time an option's quote is needed for a new
underlying quote it is priced again (Black-Scholes or Black-76 at the smile's volatility for
its strike), so its bid and ask follow the underlying step for step. Sizes and trades are
drawn from a generator seeded by (seed, conId, step), so the same steps give the same quotes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from ibkr_simulator.clock import Clock
from ibkr_simulator.contracts import ContractSpec, expires_at
from ibkr_simulator.option_pricing import (
    Greeks,
    OptionTerms,
    evaluate,
    implied_volatility,
    smile_volatility,
)
from ibkr_simulator.quotes import Quote, round_to_tick

SECONDS_PER_YEAR = 365 * 24 * 3600
# Chance that a step prints an option trade: options trade less often than their underlying.
TRADE_PROBABILITY = 0.25
# The quoted width: two cents plus 1% of the value, at most 10% of it, at least a tick.
SPREAD_FIXED = 0.02
SPREAD_FRACTION = 0.01
SPREAD_MAXIMUM_FRACTION = 0.10


@dataclass(frozen=True)
class OptionAnalytics:
    """The model's view of an option at one underlying quote."""

    terms: OptionTerms
    model: Greeks


@dataclass
class _Day:
    """An option's statistics since the simulator first priced it."""

    open: float
    close: float
    high: float
    low: float
    last: float
    last_size: float
    volume: float = 0.0


@dataclass
class _Priced:
    underlying_step: int
    quote: Quote
    analytics: OptionAnalytics


@dataclass
class OptionQuoter:
    """Prices options from their underlying's quotes, once per underlying step."""

    seed: int
    clock: Clock
    _priced: dict[int, _Priced] = field(default_factory=dict)
    _days: dict[int, _Day] = field(default_factory=dict)

    def terms(self, contract: ContractSpec, underlying_price: float) -> OptionTerms:
        return option_terms(contract, underlying_price, self.clock())

    def analytics(self, contract: ContractSpec, underlying: Quote) -> OptionAnalytics:
        return self._price(contract, underlying).analytics

    def quote(self, contract: ContractSpec, underlying: Quote) -> Quote:
        return self._price(contract, underlying).quote

    def _price(self, contract: ContractSpec, underlying: Quote) -> _Priced:
        cached = self._priced.get(contract.con_id)
        if cached is not None and cached.underlying_step == underlying.step:
            return cached
        terms = self.terms(contract, underlying.midpoint)
        model = evaluate(terms, model_volatility(contract, terms))
        analytics = OptionAnalytics(terms, model)
        priced = _Priced(underlying.step, self._book(contract, underlying, model.price), analytics)
        self._priced[contract.con_id] = priced
        return priced

    def _book(self, contract: ContractSpec, underlying: Quote, value: float) -> Quote:
        tick = contract.min_tick
        generator = random.Random(f"{self.seed}:{contract.con_id}:{underlying.step}")  # noqa: S311  simulation
        width = min(SPREAD_FIXED + SPREAD_FRACTION * value, SPREAD_MAXIMUM_FRACTION * value)
        width = max(tick, round_to_tick(width, tick))
        bid = max(0.0, math.floor((value - width / 2) / tick + 1e-9) * tick)
        bid = round_to_tick(bid, tick)
        ask = round_to_tick(max(bid + width, tick), tick)
        day = self._days.get(contract.con_id)
        if day is None:
            close = self._close_value(contract, underlying)
            mid = round_to_tick(max(tick, value), tick)
            day = _Day(open=close, close=close, high=mid, low=mid, last=mid, last_size=1.0)
            self._days[contract.con_id] = day
        traded = generator.random() < TRADE_PROBABILITY
        if traded:
            day.last = ask if bid <= 0 or generator.random() < 0.5 else bid
            day.last_size = float(generator.randint(1, 10))
            day.volume += day.last_size
            day.high = max(day.high, day.last)
            day.low = min(day.low, day.last)
        return Quote(
            bid=bid,
            ask=ask,
            bid_size=float(generator.randint(1, 50)) if bid > 0 else 0.0,
            ask_size=float(generator.randint(1, 50)),
            last=day.last,
            last_size=day.last_size,
            volume=day.volume,
            high=day.high,
            low=day.low,
            open=day.open,
            close=day.close,
            traded=traded,
            step=underlying.step,
        )

    def _close_value(self, contract: ContractSpec, underlying: Quote) -> float:
        """The option's value at the underlying's previous close, a day more from expiry."""
        terms = self.terms(contract, underlying.close)
        terms = OptionTerms(
            terms.underlying_price,
            terms.strike,
            terms.years + 1 / 365,
            terms.is_call,
            terms.on_future,
        )
        value = evaluate(terms, model_volatility(contract, terms)).price
        return round_to_tick(max(contract.min_tick, value), contract.min_tick)


def option_terms(contract: ContractSpec, underlying_price: float, now: dt.datetime) -> OptionTerms:
    seconds = (expires_at(contract.last_trade_date) - now).total_seconds()
    return OptionTerms(
        underlying_price=underlying_price,
        strike=contract.strike,
        years=max(0.0, seconds / SECONDS_PER_YEAR),
        is_call=contract.right == "C",
        on_future=contract.sec_type == "FOP",
    )


def model_volatility(contract: ContractSpec, terms: OptionTerms) -> float:
    """The smile's volatility at this option's strike; the underlying's own volatility at the money."""
    return smile_volatility(contract.annual_volatility, terms.strike, terms.forward)


def computation_at(terms: OptionTerms, price: float) -> Greeks | None:
    """IB's option computation for a quoted price: the implied volatility and the greeks at it,
    None when no volatility gives that price."""
    if price <= 0:
        return None
    volatility = implied_volatility(terms, price)
    if volatility is None:
        return None
    greeks = evaluate(terms, volatility)
    return Greeks(volatility, price, greeks.delta, greeks.gamma, greeks.vega, greeks.theta)
