"""What the order engine reports as orders change; the simulator turns each into wire messages."""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator.account import MarginPreview
from ibkr_simulator.order_model import SimulatedOrder
from ibkr_simulator.outgoing import ExecutionReport, StatusReport


def status_report(order: SimulatedOrder, status: str | None = None) -> StatusReport:
    """Freeze an order's status fields at the moment the event happens."""
    return StatusReport(
        order_id=order.order_id,
        status=status or order.status,
        filled=order.filled,
        remaining=order.remaining,
        average_fill_price=order.average_fill_price,
        perm_id=order.perm_id,
        parent_id=order.parent_id,
        last_fill_price=order.last_fill_price,
        client_id=order.client_id,
        why_held="",
    )


@dataclass(frozen=True)
class OrderOpened:
    """A new, released or modified order: openOrder followed by orderStatus."""

    order: SimulatedOrder
    status: StatusReport


@dataclass(frozen=True)
class OrderStatusChanged:
    """A status transition without new order terms: orderStatus only."""

    order: SimulatedOrder
    status: StatusReport


@dataclass(frozen=True)
class OrderCancelled:
    """An order reached Cancelled; `confirm` adds IB's error 202 after the status."""

    order: SimulatedOrder
    status: StatusReport
    confirm: bool
    reason: str


@dataclass(frozen=True)
class OrderRejected:
    """A request the gateway refused, as an error message addressed to the order id.

    `status`, when set, is an orderStatus IB sends after the error (Inactive on a margin reject).
    """

    client_id: int
    order_id: int
    code: int
    message: str
    status: StatusReport | None = None


@dataclass(frozen=True)
class ExecutionRecord:
    """One fill and its commission, kept for reqExecutions after the fact."""

    report: ExecutionReport
    commission: float
    currency: str
    realized_pnl: float | None


@dataclass(frozen=True)
class OrderFilled:
    """A fill: execDetails, orderStatus and commissionReport, then account changes."""

    order: SimulatedOrder
    status: StatusReport
    execution: ExecutionRecord


@dataclass(frozen=True)
class ComboFilled:
    """A combination filled some whole units: one execDetails per leg at the leg's price, then
    the combination's own at the net price, the combo order's orderStatus, and a
    commissionReport per execution."""

    order: SimulatedOrder
    status: StatusReport
    legs: tuple[ExecutionRecord, ...]
    combo: ExecutionRecord


@dataclass(frozen=True)
class OrderPreviewed:
    """The answer to a what-if order: one openOrder with whatIf set and the estimates."""

    order: SimulatedOrder
    margin: MarginPreview
    commission: float


OrderEvent = (
    OrderPreviewed
    | OrderOpened
    | OrderStatusChanged
    | OrderCancelled
    | OrderRejected
    | OrderFilled
    | ComboFilled
)
