"""Orders and fills as this process last committed them, so that applying IB's reports does
not read back what the store has just written.

Every report about an order (each orderStatus, execution and commission) starts by finding the
stored order, and a commission by finding its fill: one read transaction each, about a
millisecond of CPU through SQLAlchemy and the async driver (bench/order_statements.py), five
of a market order's thirteen transactions. The order store is the only writer of orders and
fills (its write lock), so what it committed last is what a read would return. Entries are set
only after their transaction commits, all are forgotten when a write fails or archival moves
rows out in this process, the oldest go past a bound, and none is served an hour after it was
written: archival takes only orders a week old, so an order `ibkr-grpc archive` (another
process) moved out is never one this store still remembers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from ibkr_grpc.domain.enums import BracketRole
from ibkr_grpc.domain.orders import Fill, Order, OrderEvent

RECENT_LIMIT = 4096
RECENT_SECONDS = 3600.0

T = TypeVar("T")


class _Bounded(Generic[T]):
    def __init__(self, limit: int, lifetime: float) -> None:
        self._limit = limit
        self._lifetime = lifetime
        self._values: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()

    def put(self, key: Hashable, value: T) -> None:
        self._values[key] = (time.monotonic(), value)
        self._values.move_to_end(key)
        while len(self._values) > self._limit:
            self._values.popitem(last=False)

    def get(self, key: Hashable) -> T | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        written, value = entry
        if time.monotonic() - written >= self._lifetime:
            del self._values[key]
            return None
        return value

    def clear(self) -> None:
        self._values.clear()


class RecentWrites:
    def __init__(self, limit: int = RECENT_LIMIT, lifetime: float = RECENT_SECONDS) -> None:
        self._orders: _Bounded[Order] = _Bounded(limit, lifetime)
        self._fills: _Bounded[Fill] = _Bounded(limit, lifetime)

    def committed(self, events: Sequence[OrderEvent]) -> None:
        """After the commit of `events`: each order (and fill) as its last event left it."""
        for event in events:
            # A bracket's parent lists its legs, which the store reads from the legs' rows.
            if event.order.bracket_role is not BracketRole.PARENT:
                self._orders.put(event.order.order_id, event.order)
            if event.fill is not None:
                self._fills.put(event.fill.execution_id, event.fill)

    def fill_saved(self, fill: Fill) -> None:
        self._fills.put(fill.execution_id, fill)

    def order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def fill(self, execution_id: str) -> Fill | None:
        return self._fills.get(execution_id)

    def forget(self) -> None:
        self._orders.clear()
        self._fills.clear()
