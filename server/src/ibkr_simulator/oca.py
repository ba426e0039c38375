"""One-Cancels-All groups: what IB does to the other members when part of the group executes.

IB's Order.ocaType (TWS API reference; https://interactivebrokers.github.io/tws-api/oca.html):
1 = cancel all remaining orders with block, 2 = remaining orders are proportionately reduced in
size with block, 3 = remaining orders are proportionately reduced in size with no block. "With
block" is overfill protection: only one order of the group is routed at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ibkr_simulator.order_model import SimulatedOrder

CANCEL_WITH_BLOCK = 1
REDUCE_WITH_BLOCK = 2
REDUCE_WITHOUT_BLOCK = 3
# What IB gives a bracket's children that carry no OCA group of their own: the parent's permId
# as the group and type 3 (a published ib_insync log of a real gateway shows a bracket's stop
# child with ocaGroup='1938982781', its parent's permId, and ocaType=3).
BRACKET_OCA_TYPE = REDUCE_WITHOUT_BLOCK

GroupKey = tuple[str, str]


def group_key(order: SimulatedOrder) -> GroupKey | None:
    """Orders of one account that share an ocaGroup name form one group."""
    return (order.account, order.oca_group) if order.oca_group else None


def effective_type(order: SimulatedOrder) -> int:
    """IB documents types 1 to 3 only; an unset type (0) with a group is treated as 1."""
    return order.oca_type if order.oca_type in {2, 3} else CANCEL_WITH_BLOCK


def blocks(order: SimulatedOrder) -> bool:
    """Whether the group routes one order at a time, so a sibling can never overfill it."""
    return effective_type(order) != REDUCE_WITHOUT_BLOCK


@dataclass(frozen=True)
class Adjustment:
    """What happens to one working member: a smaller total quantity, or cancellation."""

    order: SimulatedOrder
    new_total_quantity: float

    @property
    def cancels(self) -> bool:
        return self.new_total_quantity <= self.order.filled + 1e-9


def adjustments(executed: SimulatedOrder, members: Iterable[SimulatedOrder]) -> list[Adjustment]:
    """How the other working members change after `executed` has had an execution.

    A member that completes cancels the rest (every type). Type 1 cancels the rest on any
    execution. Types 2 and 3 shrink each other member in proportion to the fraction of the
    group already executed: each member keeps open its own size times the unexecuted fraction.
    """
    group = list(members)
    others = [member for member in group if member is not executed and not member.is_done]
    if executed.remaining <= 1e-9 or effective_type(executed) == CANCEL_WITH_BLOCK:
        return [Adjustment(member, member.filled) for member in others]
    executed_fraction = sum(
        member.filled / member.oca_basis for member in group if member.oca_basis > 0
    )
    unexecuted = max(0.0, 1.0 - executed_fraction)
    changes: list[Adjustment] = []
    for member in others:
        # Whole shares (or currency units): rounding down never leaves the group overfilled.
        open_quantity = math.floor(member.oca_basis * unexecuted + 1e-9)
        new_total = min(member.total_quantity, member.filled + open_quantity)
        if new_total < member.total_quantity - 1e-9:
            changes.append(Adjustment(member, new_total))
    return changes
