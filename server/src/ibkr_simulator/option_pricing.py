"""Option values and greeks: Black-Scholes on stocks, Black-76 on futures, a skewed volatility smile.

European exercise is assumed for both (an American call on a stock without dividends is worth
the same; an American put is worth a little more, which the simulator does not model). Greeks
are reported in IB's units: delta and gamma per unit of the underlying, vega per volatility
point (1%), theta per calendar day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The simulated market's interest rate and the equity index dividend yield; stocks pay none.
RISK_FREE_RATE = 0.04
# The shortest time to expiry priced: a minute, so that an option on its last day still has
# a value and greeks until the close.
MINIMUM_YEARS = 60 / (365 * 24 * 3600)
# Implied volatility is searched in this range; outside it IB reports none.
MINIMUM_VOLATILITY = 0.001
MAXIMUM_VOLATILITY = 5.0
# The smile: volatility as a multiple of at-the-money volatility, quadratic in log-moneyness
# ln(K/F) and falling with the strike (equity skew: puts below the money are dearer).
SMILE_SKEW = -1.0
SMILE_CURVATURE = 2.0
SMILE_FLOOR = 0.4


@dataclass(frozen=True)
class OptionTerms:
    """What the value depends on besides the volatility."""

    underlying_price: float
    strike: float
    years: float
    is_call: bool
    # True: Black-76 (the underlying is a future, no carry); False: Black-Scholes on a stock.
    on_future: bool
    rate: float = RISK_FREE_RATE

    @property
    def forward(self) -> float:
        if self.on_future:
            return self.underlying_price
        return self.underlying_price * math.exp(self.rate * self._years)

    @property
    def _years(self) -> float:
        return max(self.years, MINIMUM_YEARS)

    @property
    def discount(self) -> float:
        return math.exp(-self.rate * self._years)

    @property
    def intrinsic(self) -> float:
        if self.is_call:
            return max(0.0, self.underlying_price - self.strike)
        return max(0.0, self.strike - self.underlying_price)


@dataclass(frozen=True)
class Greeks:
    """One evaluation: the value and IB's option computation fields."""

    volatility: float
    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


def _normal_cdf(value: float) -> float:
    return 0.5 * math.erfc(-value / math.sqrt(2.0))


def _normal_pdf(value: float) -> float:
    return math.exp(-0.5 * value * value) / math.sqrt(2.0 * math.pi)


def smile_volatility(at_the_money: float, strike: float, forward: float) -> float:
    """The volatility the market quotes at `strike`: the smile around `at_the_money`."""
    moneyness = math.log(strike / forward)
    factor = 1.0 + SMILE_SKEW * moneyness + SMILE_CURVATURE * moneyness * moneyness
    return at_the_money * max(SMILE_FLOOR, factor)


def evaluate(terms: OptionTerms, volatility: float) -> Greeks:
    """Value and greeks at `volatility` (Black-Scholes, or Black-76 on a future)."""
    years = max(terms.years, MINIMUM_YEARS)
    root = math.sqrt(years)
    forward = terms.forward
    discount = terms.discount
    spread = volatility * root
    d1 = (math.log(forward / terms.strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    if terms.is_call:
        price = discount * (forward * _normal_cdf(d1) - terms.strike * _normal_cdf(d2))
    else:
        price = discount * (terms.strike * _normal_cdf(-d2) - forward * _normal_cdf(-d1))
    # Sensitivities to the underlying's own price: for a stock the forward moves one for one
    # with the discount undone, for a future the forward is the price.
    carry = discount if terms.on_future else 1.0
    delta = carry * (_normal_cdf(d1) if terms.is_call else _normal_cdf(d1) - 1.0)
    gamma = carry * _normal_pdf(d1) / (terms.underlying_price * spread)
    vega = carry * terms.underlying_price * _normal_pdf(d1) * root
    decay = -carry * terms.underlying_price * _normal_pdf(d1) * volatility / (2.0 * root)
    if terms.on_future:
        # Black-76: the only carry is the discounting of the value itself.
        theta = decay + terms.rate * price
    elif terms.is_call:
        theta = decay - terms.rate * terms.strike * discount * _normal_cdf(d2)
    else:
        theta = decay + terms.rate * terms.strike * discount * _normal_cdf(-d2)
    return Greeks(
        volatility=volatility,
        price=max(price, 0.0),
        delta=delta,
        gamma=gamma,
        vega=vega / 100.0,
        theta=theta / 365.0,
    )


def implied_volatility(terms: OptionTerms, price: float) -> float | None:
    """The volatility at which the model gives `price`; None when no volatility does (a price
    at or below the discounted intrinsic value, or above the model's range)."""
    low, high = MINIMUM_VOLATILITY, MAXIMUM_VOLATILITY
    if price <= evaluate(terms, low).price or price >= evaluate(terms, high).price:
        return None
    for _ in range(100):
        middle = 0.5 * (low + high)
        if evaluate(terms, middle).price < price:
            low = middle
        else:
            high = middle
        if high - low < 1e-7:
            break
    return 0.5 * (low + high)
