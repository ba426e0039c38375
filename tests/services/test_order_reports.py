"""Broker reports and reconciliation in the order manager, against the fake broker: a status
changes only on IB's word, REJECTED only on IB's definitive refusal of an order it had not
acknowledged, unknown outcomes are settled by reconciliation, and orders and fills placed outside
this server are recorded with their origin."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_grpc.broker import error_codes
from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerSnapshot,
)
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderEventType, OrderOrigin, OrderStatus, OrderType, Side
from ibkr_grpc.domain.errors import BrokerRejectedError, ServiceUnavailableError
from ibkr_grpc.domain.orders import Order, OrderTerms
from ibkr_grpc.domain.queries import FillFilter
from ibkr_grpc.services.order_reports import NEVER_REACHED_IB, OUTCOME_UNKNOWN
from tests.services.fake_broker import (
    CLIENT_ID,
    Report,
    execution,
    message,
    open_order,
    status,
)
from tests.services.order_harness import harness, intent
from tests.support.waiting import eventually

SUBMITTED = OrderStatus.SUBMITTED


def no_answer(order: Order) -> list[Report]:
    del order
    return []


@pytest.mark.parametrize("code", [201, 203, 103, 110, 10149])
async def test_ib_refusing_a_new_order_rejects_it(tmp_path: Path, code: int) -> None:
    """201 "Order rejected - Reason:", 203 "The security is not available or allowed for this
    account", 103 "Duplicate order ID", 110 (price off the minimum variation) on a new order
    (https://interactivebrokers.github.io/tws-api/message_codes.html; ib_async's wrapper.error:
    "invalid price for a new order must cancel it"); 10149 "Invalid order id" (real log:
    https://github.com/stoqey/ib/issues/203)."""
    async with harness(tmp_path) as h:
        h.broker.on_new = lambda order: [message(order, code, "Order rejected - reason:no")]
        with pytest.raises(BrokerRejectedError):
            await h.manager.place(intent(f"rejected-{code}"))
        record = await h.store.find_idempotency(f"rejected-{code}")
        assert record is not None
        rejected = await h.order(record.order_id)
        assert rejected.status is OrderStatus.REJECTED
        assert rejected.status_reason == "Order rejected - reason:no"


async def test_a_margin_rejection_ends_rejected_when_ib_then_says_inactive(tmp_path: Path) -> None:
    """IB refuses an order that would leave initial margin above equity with 201 and reports it
    Inactive ("received by the system but is no longer active because it was rejected or
    canceled": IB's orderStatus definition; thetagang PR #709 and nautilus_trader PR #3723 show
    both arriving)."""
    margin = "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED"
    async with harness(tmp_path) as h:
        h.broker.on_new = lambda order: [
            message(order, 201, margin),
            status(order, OrderStatus.INACTIVE),
        ]
        with pytest.raises(BrokerRejectedError):
            await h.manager.place(intent("margin"))
        await h.manager.settled()
        record = await h.store.find_idempotency("margin")
        assert record is not None
        assert (await h.order(record.order_id)).status is OrderStatus.REJECTED


@pytest.mark.parametrize("code", sorted(error_codes.ORDER_WARNINGS))
async def test_warnings_never_change_a_status(tmp_path: Path, code: int) -> None:
    """399 "Order message error" (a warning such as "will not be placed at the exchange until"),
    404 shares held for a locate (the order stays open: https://github.com/erdewit/ib_insync/
    issues/328), 434 (ib_async counts it a warning), 492, 2109 (outside-hours notice), 10349
    "Order TIF was set to DAY based on order preset" (the order stays live and fills:
    https://github.com/ib-api-reloaded/ib_async/issues/191)."""
    async with harness(tmp_path) as h:
        h.broker.on_new = lambda order: [
            message(order, code),
            open_order(order),
            status(order, SUBMITTED),
        ]
        placed = (await h.manager.place(intent(f"warned-{code}"))).order
        await h.manager.settled()
        assert (await h.order(placed.order_id)).status is SUBMITTED
        assert OrderEventType.BROKER_MESSAGE in await h.event_types(placed.order_id)
        h.broker.deliver([message(placed, code)])
        await h.manager.settled()
        assert (await h.order(placed.order_id)).status is SUBMITTED


async def test_a_rejection_code_about_a_working_order_changes_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("working"))).order
        h.broker.deliver([message(placed, 201)])
        await h.manager.settled()
        assert (await h.order(placed.order_id)).status is SUBMITTED
        assert (await h.event_types(placed.order_id))[-1] is OrderEventType.BROKER_MESSAGE


async def test_an_unknown_code_changes_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("unknown-code"))).order
        h.broker.deliver([message(placed, 99999)])
        await h.manager.settled()
        assert (await h.order(placed.order_id)).status is SUBMITTED


async def test_ib_cancelling_an_order_cancels_it(tmp_path: Path) -> None:
    """202 "Order cancelled - Reason:": "An active order on the IB server was cancelled"
    (https://interactivebrokers.github.io/tws-api/message_codes.html)."""
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("ib-cancels"))).order
        h.broker.deliver([message(placed, 202, "Order Canceled - reason:price check")])
        await h.manager.settled()
        cancelled = await h.order(placed.order_id)
        assert cancelled.status is OrderStatus.CANCELLED
        assert cancelled.status_reason == "Order Canceled - reason:price check"


# ---- reconciliation ---------------------------------------------------------------------------


async def test_reconciliation_settles_an_order_ib_never_received(tmp_path: Path) -> None:
    async with harness(tmp_path, acknowledgement_timeout=0.2) as h:
        h.broker.on_new = no_answer
        lost = (await h.manager.place(intent("lost"))).order
        assert lost.status is OrderStatus.PENDING_SUBMIT
        await h.manager.reconcile(BrokerSnapshot())
        settled = await h.order(lost.order_id)
        assert settled.status is OrderStatus.NOT_SENT
        assert settled.status_reason == NEVER_REACHED_IB
        # The same key and request now send it, once.
        h.broker.on_new = lambda order: [open_order(order), status(order, SUBMITTED)]
        resent = await h.manager.place(intent("lost"))
        assert resent.order.status is SUBMITTED
        assert resent.order.order_id != lost.order_id
        assert (await h.manager.place(intent("lost"))).order.order_id == resent.order.order_id
        assert len(h.broker.placed) == 2


async def test_reconciliation_keeps_an_acknowledged_order_it_cannot_find(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("acknowledged"))).order
        await h.manager.reconcile(BrokerSnapshot())
        kept = await h.order(placed.order_id)
        assert kept.status is SUBMITTED
        assert kept.status_reason == OUTCOME_UNKNOWN


async def test_reconciliation_takes_ibs_terms(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("changed-in-tws"))).order
        terms = replace(placed.terms, quantity=Decimal(7), limit_price=Decimal("99.5"))
        snapshot = BrokerSnapshot(
            orders=[status(placed, SUBMITTED)], open_orders=[open_order(placed, terms)]
        )
        await h.manager.reconcile(snapshot)
        reconciled = await h.order(placed.order_id)
        assert reconciled.terms.quantity == Decimal(7)
        assert reconciled.terms.limit_price == Decimal("99.5")


# ---- orders placed elsewhere ------------------------------------------------------------------

OTHER_CLIENT = 7


def foreign_order(perm_id: int, *, broker_order_id: int, client_id: int) -> BrokerOpenOrder:
    origin = OrderOrigin.MANUAL if broker_order_id <= 0 else OrderOrigin.OTHER_API_CLIENT
    return BrokerOpenOrder(
        broker_order_id=broker_order_id,
        perm_id=perm_id,
        order_ref="",
        client_id=client_id,
        account="DU1234567",
        contract=ContractSpec(symbol="MSFT", con_id=272093),
        terms=OrderTerms(
            side=Side.SELL,
            quantity=Decimal(4),
            order_type=OrderType.LIMIT,
            limit_price=Decimal(410),
        ),
        status=SUBMITTED,
        origin=origin,
    )


async def test_an_order_of_another_api_client_is_recorded_with_its_fills(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        report = foreign_order(555, broker_order_id=1, client_id=OTHER_CLIENT)
        h.broker.deliver([report])
        await h.manager.settled()
        found = await h.store.find_by_broker_ids(perm_id=555)
        assert found is not None
        assert found.origin is OrderOrigin.OTHER_API_CLIENT
        assert found.broker_client_id == OTHER_CLIENT
        assert await h.event_types(found.order_id) == [OrderEventType.DISCOVERED]
        fill = execution(
            replace(found, perm_id=555),
            execution_id="0001f4e8.01",
            quantity="4",
            price="410",
            cumulative="4",
            client_id=OTHER_CLIENT,
        )
        h.broker.deliver([fill, BrokerCommission("0001f4e8.01", Decimal("1.02"), "USD", None)])
        await h.manager.settled()
        filled = await h.order(found.order_id)
        assert filled.status is OrderStatus.FILLED
        assert filled.commission == Decimal("1.02")


async def test_a_finished_order_of_unknown_origin_is_not_recorded(tmp_path: Path) -> None:
    """Completed orders come back with order id 0 and client id 0 and only the permId to know
    them by (real log: https://github.com/erdewit/ib_insync/issues/559): nothing says who
    placed one, so reconciliation does not invent an order for it."""
    async with harness(tmp_path) as h:
        finished = replace(
            foreign_order(991, broker_order_id=0, client_id=0), status=OrderStatus.FILLED
        )
        await h.manager.reconcile(BrokerSnapshot(open_orders=[finished]))
        assert await h.store.find_by_broker_ids(perm_id=991) is None
        working = foreign_order(992, broker_order_id=4, client_id=OTHER_CLIENT)
        await h.manager.reconcile(BrokerSnapshot(open_orders=[working]))
        assert await h.store.find_by_broker_ids(perm_id=992) is not None


async def test_a_manual_order_is_recorded_as_manual(tmp_path: Path) -> None:
    """Orders placed by hand in TWS come with order id 0 (or below, once bound) and are known by
    their permId (IB's modifying_orders page; ib_async wrapper.orderKey)."""
    async with harness(tmp_path) as h:
        h.broker.deliver([foreign_order(777, broker_order_id=0, client_id=0)])
        await h.manager.settled()
        found = await h.store.find_by_broker_ids(perm_id=777)
        assert found is not None
        assert found.origin is OrderOrigin.MANUAL


async def test_a_fill_of_an_unseen_order_is_kept_with_its_commission(tmp_path: Path) -> None:
    """Executions of manual orders come with an unset order id (ib_async wrapper.execDetails:
    "bug in TWS: executions of manual orders have unset value"); the commission report may come
    first."""
    async with harness(tmp_path) as h:
        fill = BrokerExecution(
            execution_id="0002.01",
            broker_order_id=0,
            perm_id=888,
            order_ref="",
            client_id=0,
            account="DU1234567",
            contract=ContractSpec(symbol="MSFT", con_id=272093),
            side=Side.SELL,
            quantity=Decimal(4),
            price=Decimal(410),
            cumulative_quantity=Decimal(4),
            average_price=Decimal(410),
            exchange="ISLAND",
            execution_time=datetime.now(UTC),
        )
        h.broker.deliver([BrokerCommission("0002.01", Decimal(1), "USD", None), fill])
        await h.manager.settled()
        page = await h.store.list_fills(FillFilter(), 50, "")
        assert [(f.execution_id, f.order_id, f.commission) for f in page.fills] == [
            ("0002.01", "", Decimal(1))
        ]


async def test_another_clients_order_id_never_names_ours(tmp_path: Path) -> None:
    """IB's order ids are per API client: client 7's order 1 is not our order 1."""
    async with harness(tmp_path) as h:
        ours = (await h.manager.place(intent("mine"))).order
        assert ours.broker_order_id == 1
        theirs = replace(
            status(ours, OrderStatus.CANCELLED, client_id=OTHER_CLIENT), perm_id=999, order_ref=""
        )
        h.broker.deliver([theirs])
        await h.manager.settled()
        assert (await h.order(ours.order_id)).status is SUBMITTED
        assert ours.broker_client_id == CLIENT_ID


# ---- a database outage -------------------------------------------------------------------------


async def test_reports_wait_for_the_database_and_are_applied_in_order(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("outage"))).order
        h.store.down = True
        fill = execution(
            placed, execution_id="0003.01", quantity="10", price="100", cumulative="10"
        )
        h.broker.deliver([fill, status(placed, OrderStatus.FILLED, filled="10")])
        # The consumer tries, fails, backs off and tries again.
        await eventually(lambda: h.store.failures >= 2)
        assert (await h.order(placed.order_id)).status is SUBMITTED
        h.store.down = False
        await h.manager.settled()
        filled = await h.order(placed.order_id)
        assert filled.status is OrderStatus.FILLED
        assert filled.filled_quantity == Decimal(10)
        assert OrderEventType.FILL in await h.event_types(placed.order_id)


async def test_nothing_is_sent_that_could_not_be_stored(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.store.down = True
        with pytest.raises(ServiceUnavailableError):
            await h.manager.place(intent("not-stored"))
        assert h.broker.placed == []
