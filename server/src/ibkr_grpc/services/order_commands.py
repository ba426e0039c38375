"""Order commands awaiting IB's answer: a new order's first word from IB, a modification's
confirmation or refusal, a cancel's acknowledgement or refusal. The order manager settles them
from broker reports; callers wait on their futures, boundedly, without re-reading the database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ibkr_grpc.domain.errors import CommandRefusedError
from ibkr_grpc.domain.orders import Order, OrderTerms


@dataclass(slots=True)
class PendingModification:
    terms: OrderTerms
    answer: asyncio.Future[Order]


class PendingCommands:
    """At most one placement, one modification and one cancel per order at a time."""

    def __init__(self) -> None:
        self._placements: dict[str, asyncio.Future[Order]] = {}
        self._modifications: dict[str, PendingModification] = {}
        self._cancels: dict[str, asyncio.Future[Order]] = {}

    # ---- expecting -----------------------------------------------------------------------

    def expect_acknowledgement(self, order_id: str) -> asyncio.Future[Order]:
        return self._placements.setdefault(order_id, _future())

    def expect_modification(self, order_id: str, terms: OrderTerms) -> asyncio.Future[Order]:
        pending = PendingModification(terms, _future())
        self._modifications[order_id] = pending
        return pending.answer

    def expect_cancel(self, order_id: str) -> asyncio.Future[Order]:
        existing = self._cancels.get(order_id)
        if existing is not None and not existing.done():
            return existing
        answer = _future()
        self._cancels[order_id] = answer
        return answer

    def modifying(self, order_id: str) -> OrderTerms | None:
        """The terms of the modification awaiting IB's answer, if any."""
        pending = self._modifications.get(order_id)
        return pending.terms if pending is not None else None

    def modifications(self) -> dict[str, OrderTerms]:
        """The requested terms of every modification awaiting IB's answer, by order id."""
        return {order_id: pending.terms for order_id, pending in self._modifications.items()}

    def forget(self, order_id: str) -> None:
        """Drop whatever is pending for the order (nothing reached IB)."""
        for table in (self._placements, self._modifications, self._cancels):
            table.pop(order_id, None)

    # ---- settling ------------------------------------------------------------------------

    def acknowledged(self, order: Order) -> None:
        """IB said something about a new order (or reconciliation did)."""
        _resolve(self._placements.pop(order.order_id, None), order)

    def modification_confirmed(self, order: Order) -> None:
        pending = self._modifications.pop(order.order_id, None)
        if pending is not None:
            _resolve(pending.answer, order)

    def cancel_acknowledged(self, order: Order) -> None:
        _resolve(self._cancels.pop(order.order_id, None), order)

    def refuse(self, order: Order, *, cancel_first: bool, code: int, message: str) -> str:
        """IB refused a command on the order: the pending cancel or modification (which one
        first, by the refusal's code) fails with CommandRefusedError. Returns what was
        refused ("cancel", "modification" or "" when nothing was pending)."""
        order_id = order.order_id
        order_of_search = ("cancel", "modification") if cancel_first else ("modification", "cancel")
        for command in order_of_search:
            if command == "cancel" and order_id in self._cancels:
                answer = self._cancels.pop(order_id)
            elif command == "modification" and order_id in self._modifications:
                answer = self._modifications.pop(order_id).answer
            else:
                continue
            error = CommandRefusedError(
                f"IB refused the {command} of order {order_id} ({code}): {message}",
                order_id=order_id,
                ib_error_code=code,
                ib_message=message,
            )
            if not answer.done():
                answer.set_exception(error)
            return command
        return ""

    def finished(self, order: Order) -> None:
        """The order reached a final state: every command on it has its answer."""
        self.acknowledged(order)
        self.modification_confirmed(order)
        self.cancel_acknowledged(order)

    def pending_order_ids(self) -> set[str]:
        return {*self._placements, *self._modifications, *self._cancels}


def _future() -> asyncio.Future[Order]:
    answer: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
    # A caller that gave up no longer reads it; an exception set later must not be reported
    # as never retrieved.
    answer.add_done_callback(_retrieve)
    return answer


def _retrieve(answer: asyncio.Future[Order]) -> None:
    if not answer.cancelled():
        answer.exception()


def _resolve(answer: asyncio.Future[Order] | None, order: Order) -> None:
    if answer is not None and not answer.done():
        answer.set_result(order)
