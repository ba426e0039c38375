"""A quote: the top of book and the day's statistics of one instrument after one price step."""

from __future__ import annotations

from dataclasses import dataclass


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
