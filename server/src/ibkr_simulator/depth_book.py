"""The order book market depth shows, and the row changes that move a client from one to the next.

The book is the liquidity model's (liquidity.book_side): the touch at the quote's bid and ask
with the sizes the market data reports, deeper levels one or more ticks away. Orders execute
against the same levels, so what depth shows is what a market order would take. SMART depth
splits each level between the venues the contract trades on, one row per venue, as IB's
aggregated book names the exchange holding each row.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ibkr_simulator.config import FillPolicy
from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.liquidity import DISPLAYED, book_side
from ibkr_simulator.prices import Quote

# updateMktDepth's operation field (EWrapper.updateMktDepth: 0 insert, 1 update, 2 delete).
INSERT = 0
UPDATE = 1
DELETE = 2
# updateMktDepth's side field: 0 the asks, 1 the bids.
ASK_SIDE = 0
BID_SIDE = 1
# The smart-routing name is not a venue that holds orders.
SMART_ROUTE = "SMART"
# At most this many venues share one price level of a SMART book.
MAXIMUM_VENUES_PER_LEVEL = 3


@dataclass(frozen=True)
class DepthRow:
    """One row of one side: a price, the size shown there, and (SMART depth) its venue."""

    price: float
    size: float
    market_maker: str = ""


@dataclass(frozen=True)
class DepthBook:
    bids: tuple[DepthRow, ...] = ()
    asks: tuple[DepthRow, ...] = ()

    def first(self, rows: int) -> DepthBook:
        """The best `rows` rows of each side (IB sends as many rows as the book has, at most
        the number asked for)."""
        return DepthBook(self.bids[:rows], self.asks[:rows])


@dataclass(frozen=True)
class RowChange:
    """One updateMktDepth: what happens at `position` of `side`."""

    side: int
    position: int
    operation: int
    row: DepthRow


def venues(contract: ContractSpec) -> tuple[str, ...]:
    """The exchanges whose books make up a SMART book for `contract`."""
    named = tuple(name for name in contract.valid_exchanges if name != SMART_ROUTE)
    return named or (contract.exchange,)


def consolidated_book(quote: Quote, contract: ContractSpec, policy: FillPolicy) -> DepthBook:
    """Every level of the liquidity model, one row per price, best first."""
    # With unlimited liquidity orders take any size at the touch, but the market still shows
    # sizes: depth shows the displayed book the market data reports.
    shown = policy if policy.liquidity == DISPLAYED else replace(policy, liquidity=DISPLAYED)
    bids = book_side(quote, contract, shown, buy=False)
    asks = book_side(quote, contract, shown, buy=True)
    return DepthBook(
        tuple(DepthRow(level.price, level.size) for level in bids),
        tuple(DepthRow(level.price, level.size) for level in asks),
    )


def smart_book(quote: Quote, contract: ContractSpec, policy: FillPolicy, seed: int) -> DepthBook:
    """The consolidated book with each level split into one row per venue holding part of it.

    The split is drawn from (seed, conId, step), so every subscriber sees the same book and
    the same seed and steps give the same rows.
    """
    book = consolidated_book(quote, contract, policy)
    draw = random.Random(f"{seed}:{contract.con_id}:{quote.step}:depth")  # noqa: S311  simulation
    names = venues(contract)
    unit = 100_000.0 if contract.is_forex else 100.0
    return DepthBook(
        tuple(row for level in book.bids for row in _split(level, names, unit, draw)),
        tuple(row for level in book.asks for row in _split(level, names, unit, draw)),
    )


def _split(
    level: DepthRow, names: Sequence[str], unit: float, draw: random.Random
) -> list[DepthRow]:
    """Share one level between a few venues in whole lots; the shares add up to its size."""
    lots = int(level.size // unit)
    count = min(draw.randint(1, min(MAXIMUM_VENUES_PER_LEVEL, len(names))), max(1, lots))
    chosen = draw.sample(list(names), count)
    if count == 1:
        return [DepthRow(level.price, level.size, chosen[0])]
    cuts = sorted(draw.sample(range(1, lots), count - 1))
    shares = [(end - start) * unit for start, end in zip([0, *cuts], [*cuts, lots], strict=True)]
    shares[-1] += level.size - lots * unit
    rows = [DepthRow(level.price, size, name) for name, size in zip(chosen, shares, strict=True)]
    # The largest share first, then by name, so that the order does not depend on the draw.
    return sorted(rows, key=lambda row: (-row.size, row.market_maker))


def row_changes(old: DepthBook, new: DepthBook) -> list[RowChange]:
    """The updates that turn `old` into `new`, position by position.

    Rows both books have are updated in place; rows past the end of the old book are inserted
    at the end, lowest position first; rows the new book no longer has are deleted from the
    end, highest position first. IB defines insert and delete as shifting the rows below
    (EWrapper.updateMktDepth), while ib_async keeps each side as a dict keyed by position and
    treats an insert as a write (wrapper.py updateMktDepthL2): inserting and deleting only at
    the end means the same book for both readings.
    """
    changes: list[RowChange] = []
    for side, before, after in ((BID_SIDE, old.bids, new.bids), (ASK_SIDE, old.asks, new.asks)):
        common = min(len(before), len(after))
        changes += [
            RowChange(side, position, UPDATE, after[position])
            for position in range(common)
            if after[position] != before[position]
        ]
        changes += [
            RowChange(side, position, INSERT, after[position])
            for position in range(common, len(after))
        ]
        changes += [
            RowChange(side, position, DELETE, replace(before[position], size=0.0))
            for position in reversed(range(common, len(before)))
        ]
    return changes
