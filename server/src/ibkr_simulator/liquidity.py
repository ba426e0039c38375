"""Displayed liquidity: the size an order can take at each price of the simulated book.

The touch shows the bidSize/askSize the market data reports for the same step; deeper levels
sit one or more ticks further away. Fills consume what they take until the next price step
refreshes the book, so two orders in one step share the liquidity between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ibkr_simulator.config import FillPolicy
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.prices import Quote, round_to_tick

DISPLAYED = "displayed"
UNLIMITED = "unlimited"
LIQUIDITY_MODES = (DISPLAYED, UNLIMITED)


@dataclass(frozen=True)
class BookLevel:
    """One price of one side of the book and the size still shown there."""

    price: float
    size: float


def book_side(
    quote: Quote, contract: ContractSpec, policy: FillPolicy, *, buy: bool
) -> list[BookLevel]:
    """The levels a buy (the offers) or a sell (the bids) executes against, best first."""
    touch = quote.ask if buy else quote.bid
    if policy.liquidity == UNLIMITED:
        return [BookLevel(touch, math.inf)]
    touch_size = quote.ask_size if buy else quote.bid_size
    deeper_size = policy.level_size if policy.level_size is not None else touch_size
    spacing = contract.min_tick * max(1, policy.level_spacing_ticks)
    levels: list[BookLevel] = []
    for index in range(max(1, policy.book_levels)):
        offset = index * spacing
        price = round_to_tick(touch + offset if buy else touch - offset, contract.min_tick)
        if price <= 0:
            break
        levels.append(BookLevel(price, touch_size if index == 0 else deeper_size))
    return levels


class LiquidityBook:
    """What each instrument's book still shows in the current step, after earlier fills."""

    def __init__(self, policy: FillPolicy) -> None:
        self.policy = policy
        # (conId, buy side, price) -> size taken since the book last refreshed.
        self._taken: dict[tuple[int, bool, float], float] = {}
        # The step each instrument's taken sizes belong to.
        self._steps: dict[int, int] = {}

    def available(
        self, quote: Quote, contract: ContractSpec, *, buy: bool, limit: float | None
    ) -> list[BookLevel]:
        """The levels within `limit` (None: any price) with the size left at each."""
        self._refresh(contract.con_id, quote.step)
        levels: list[BookLevel] = []
        for level in book_side(quote, contract, self.policy, buy=buy):
            if limit is not None and (level.price > limit if buy else level.price < limit):
                break
            left = level.size - self._taken.get((contract.con_id, buy, level.price), 0.0)
            if left > 1e-9:
                levels.append(BookLevel(level.price, left))
        return levels

    def take(self, contract: ContractSpec, *, buy: bool, price: float, quantity: float) -> None:
        key = (contract.con_id, buy, price)
        self._taken[key] = self._taken.get(key, 0.0) + quantity

    def _refresh(self, con_id: int, step: int) -> None:
        if self._steps.get(con_id) == step:
            return
        self._steps[con_id] = step
        for key in [key for key in self._taken if key[0] == con_id]:
            del self._taken[key]


def plan_executions(levels: list[BookLevel], quantity: float) -> list[tuple[float, float]]:
    """Walk the levels best first: (price, size) for each execution that `quantity` needs."""
    executions: list[tuple[float, float]] = []
    left = quantity
    for level in levels:
        if left <= 1e-9:
            break
        size = min(left, level.size)
        executions.append((level.price, size))
        left -= size
    return executions


def configured(
    policy: FillPolicy,
    mode: str,
    *,
    levels: int | None = None,
    level_size: float | None = None,
    spacing_ticks: int | None = None,
) -> FillPolicy:
    """`policy` with another liquidity model; raises ValueError for an impossible one."""
    if mode not in LIQUIDITY_MODES:
        raise ValueError(f"liquidity must be one of {', '.join(LIQUIDITY_MODES)}, not {mode!r}")
    if levels is not None and levels < 1:
        raise ValueError("the book needs at least one level")
    if level_size is not None and level_size <= 0:
        raise ValueError("a level's size must be positive")
    if spacing_ticks is not None and spacing_ticks < 1:
        raise ValueError("levels are at least one tick apart")
    return replace(
        policy,
        liquidity=mode,
        book_levels=policy.book_levels if levels is None else levels,
        level_size=policy.level_size if level_size is None else level_size,
        level_spacing_ticks=policy.level_spacing_ticks if spacing_ticks is None else spacing_ticks,
    )
