"""Seeded, deterministic price paths: one random walk per instrument, stepped in lockstep.

Each instrument draws from its own generator seeded by (seed, conId), so adding an instrument
or subscribing to another one never changes an existing path: the same seed and the same number
of steps always give the same prices.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from ibkr_simulator.contracts import ContractSpec, ContractUniverse

# Trading seconds in a year, to scale annual volatility to one step.
TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
# Chance that a step prints a trade.
TRADE_PROBABILITY = 0.6


@dataclass(frozen=True)
class Quote:
    """Top of book and the day's statistics after one step."""

    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last: float
    last_size: float
    volume: float
    high: float
    low: float
    open: float
    close: float
    # True when this step printed a trade at `last`.
    traded: bool
    # Number of steps taken so far; market data uses it to skip unchanged instruments.
    step: int

    @property
    def midpoint(self) -> float:
        return (self.bid + self.ask) / 2


def round_to_tick(price: float, tick: float) -> float:
    ticks = round(price / tick)
    return round(ticks * tick, 10)


class PriceProcess:
    """A geometric random walk for one instrument, with a spread of at least one tick."""

    def __init__(self, contract: ContractSpec, seed: int, seconds_per_step: float) -> None:
        self.contract = contract
        self._random = random.Random(f"{seed}:{contract.con_id}")  # noqa: S311  simulation, not cryptography
        self._step_volatility = contract.annual_volatility * math.sqrt(
            seconds_per_step / TRADING_SECONDS_PER_YEAR
        )
        tick = contract.min_tick
        self._mid = round_to_tick(contract.initial_price, tick)
        self.frozen = False
        bid, ask = self._book(self._mid)
        self._quote = Quote(
            bid=bid,
            ask=ask,
            bid_size=self._lot() * 3,
            ask_size=self._lot() * 3,
            last=self._mid,
            last_size=self._lot(),
            volume=0.0,
            high=self._mid,
            low=self._mid,
            open=self._mid,
            close=self._mid,
            traded=False,
            step=0,
        )

    @property
    def quote(self) -> Quote:
        return self._quote

    def step(self) -> Quote:
        """Advance one step; a frozen instrument keeps its book but still counts the step."""
        current = self._quote
        if self.frozen:
            self._quote = replace(current, traded=False, step=current.step + 1)
            return self._quote
        shock = self._random.gauss(0.0, self._step_volatility)
        self._mid = max(self.contract.min_tick, self._mid * math.exp(shock))
        return self._publish(traded=self._random.random() < TRADE_PROBABILITY)

    def set_price(self, price: float) -> Quote:
        """Move the book so that the midpoint and last trade are `price` (tests and faults)."""
        if price <= 0:
            raise ValueError("a price must be positive")
        self._mid = price
        return self._publish(traded=True, exact_last=True)

    def _publish(self, *, traded: bool, exact_last: bool = False) -> Quote:
        current = self._quote
        bid, ask = self._book(self._mid)
        last, last_size, volume = current.last, current.last_size, current.volume
        if traded:
            if exact_last:
                last = round_to_tick(self._mid, self.contract.min_tick)
            else:
                last = ask if self._random.random() < 0.5 else bid
            last_size = self._lot()
            volume += last_size
        self._quote = Quote(
            bid=bid,
            ask=ask,
            bid_size=self._lot() * self._random.randint(1, 9),
            ask_size=self._lot() * self._random.randint(1, 9),
            last=last,
            last_size=last_size,
            volume=volume,
            high=max(current.high, last),
            low=min(current.low, last),
            open=current.open,
            close=current.close,
            traded=traded,
            step=current.step + 1,
        )
        return self._quote

    def _book(self, mid: float) -> tuple[float, float]:
        tick = self.contract.min_tick
        # Liquid names trade a penny wide; the spread widens a little with price.
        spread_ticks = max(1, round(mid * 0.0001 / tick))
        bid = round_to_tick(mid - spread_ticks * tick / 2, tick)
        if bid <= 0:
            bid = tick
        return bid, round_to_tick(bid + spread_ticks * tick, tick)

    def _lot(self) -> float:
        if self.contract.is_forex:
            return float(self._random.randint(1, 20) * 100_000)
        return float(self._random.randint(1, 10) * 100)


class PriceBook:
    """The price process of every instrument in the universe, stepped together."""

    def __init__(self, universe: ContractUniverse, seed: int, seconds_per_step: float) -> None:
        self._processes = {
            contract.con_id: PriceProcess(contract, seed, seconds_per_step) for contract in universe
        }

    def process(self, con_id: int) -> PriceProcess:
        try:
            return self._processes[con_id]
        except KeyError:
            raise KeyError(f"no instrument with conId {con_id}") from None

    def quote(self, con_id: int) -> Quote:
        return self.process(con_id).quote

    def step_all(self) -> dict[int, Quote]:
        return {con_id: process.step() for con_id, process in self._processes.items()}
