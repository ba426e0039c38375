"""Seeded, deterministic price paths: one random walk per instrument, stepped in lockstep.

Each instrument draws from its own generator seeded by (seed, conId), so adding an instrument
or subscribing to another one never changes an existing path: the same seed and the same number
of steps always give the same prices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar, overload

from ibkr_simulator.clock import Clock, system_clock
from ibkr_simulator.contracts import ContractSpec, ContractUniverse
from ibkr_simulator.option_quotes import OptionAnalytics, OptionQuoter
from ibkr_simulator.quotes import Quote, round_to_tick

__all__ = ["PriceBook", "PriceProcess", "Quote", "QuoteBoard", "round_to_tick"]

_Default = TypeVar("_Default")

# Trading seconds in a year, to scale annual volatility to one step.
TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
# Chance that a step prints a trade.
TRADE_PROBABILITY = 0.6


class PriceProcess:
    """A geometric random walk for one instrument, with a spread of at least one tick."""

    def __init__(
        self,
        contract: ContractSpec,
        seed: int,
        seconds_per_step: float,
        path: str | None = None,
    ) -> None:
        """`path` names the random path (default: the conId); processes that share one move
        together, as the futures of one index do."""
        self.contract = contract
        path = path or str(contract.con_id)
        self._random = random.Random(f"{seed}:{path}")  # noqa: S311  simulation, not cryptography
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
        # Liquid names trade a penny wide; the spread widens a little with price. Index
        # futures trade one tick wide.
        spread_ticks = 1 if self.contract.is_future else max(1, round(mid * 0.0001 / tick))
        bid = round_to_tick(mid - spread_ticks * tick / 2, tick)
        if bid <= 0:
            bid = tick
        return bid, round_to_tick(bid + spread_ticks * tick, tick)

    def _lot(self) -> float:
        if self.contract.is_forex:
            return float(self._random.randint(1, 20) * 100_000)
        if self.contract.is_future:
            return float(self._random.randint(1, 10) * 5)
        return float(self._random.randint(1, 10) * 100)


class QuoteBoard(dict[int, Quote]):
    """The quotes one step (or one price change) produced. Options are not stepped: looking one
    up prices it from its underlying's quote on this board, and an option whose underlying is
    not on the board did not change."""

    def __init__(self, quotes: dict[int, Quote], derive: Callable[[int, QuoteBoard], Quote | None]):
        super().__init__(quotes)
        self._derive = derive

    @overload
    def get(self, key: int, default: None = None, /) -> Quote | None: ...

    @overload
    def get(self, key: int, default: Quote, /) -> Quote: ...

    @overload
    def get(self, key: int, default: _Default, /) -> Quote | _Default: ...

    def get(self, key: int, default: object = None, /) -> object:
        found = super().get(key)
        if found is None:
            found = self._derive(key, self)
        return default if found is None else found


class PriceBook:
    """The price process of every stepped instrument (stocks, forex, futures), stepped together,
    and the options priced from them on demand."""

    def __init__(
        self,
        universe: ContractUniverse,
        seed: int,
        seconds_per_step: float,
        clock: Clock = system_clock,
    ) -> None:
        self._universe = universe
        self._processes = {
            contract.con_id: PriceProcess(
                contract,
                seed,
                seconds_per_step,
                f"FUT:{contract.symbol}" if contract.is_future else None,
            )
            for contract in universe
            if not contract.is_option
        }
        self._options = OptionQuoter(seed, clock)

    def process(self, con_id: int) -> PriceProcess:
        try:
            return self._processes[con_id]
        except KeyError:
            raise KeyError(f"no stepped instrument with conId {con_id}") from None

    def quote(self, con_id: int) -> Quote:
        process = self._processes.get(con_id)
        if process is not None:
            return process.quote
        contract = self._option(con_id)
        return self._options.quote(contract, self.quote(contract.underlying_con_id))

    def option_analytics(self, con_id: int) -> OptionAnalytics:
        """The model's view of an option now: its volatility, value and greeks."""
        contract = self._option(con_id)
        return self._options.analytics(contract, self.quote(contract.underlying_con_id))

    def step_all(self) -> QuoteBoard:
        return QuoteBoard(
            {con_id: process.step() for con_id, process in self._processes.items()}, self._derive
        )

    def set_price(self, con_id: int, price: float) -> QuoteBoard:
        """Move an instrument's midpoint and last trade to `price`. A future moves the whole
        curve of its index with it (each contract keeps its carry over the one set)."""
        process = self.process(con_id)
        contract = process.contract
        ratio = price / process.quote.midpoint
        changed = {con_id: process.set_price(price)}
        if contract.is_future:
            for other_id, other in self._processes.items():
                same_index = other.contract.is_future and other.contract.symbol == contract.symbol
                if same_index and other_id != con_id:
                    moved = round_to_tick(other.quote.midpoint * ratio, other.contract.min_tick)
                    changed[other_id] = other.set_price(moved)
        return QuoteBoard(changed, self._derive)

    def _option(self, con_id: int) -> ContractSpec:
        contract = self._universe.by_con_id(con_id)
        if contract is None or not contract.is_option:
            raise KeyError(f"no instrument with conId {con_id}")
        return contract

    def _derive(self, con_id: int, board: QuoteBoard) -> Quote | None:
        contract = self._universe.by_con_id(con_id)
        if contract is None or not contract.is_option:
            return None
        underlying = dict.get(board, contract.underlying_con_id)
        if underlying is None:
            return None
        return self._options.quote(contract, underlying)
