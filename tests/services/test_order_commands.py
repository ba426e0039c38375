"""PlaceOrder, ModifyOrder and CancelOrder in the order manager, against the fake broker: every
command passes risk and the halt, a modification is applied only on IB's word, a refused command
leaves the order as IB reports it, and a send cannot be split from its storing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderEventType, OrderStatus, Side
from ibkr_grpc.domain.errors import (
    CommandRefusedError,
    DuplicateClientOrderIdError,
    GatewayUnavailableError,
    RateLimitExceededError,
    RiskRejectedError,
    TradingHaltedError,
)
from ibkr_grpc.domain.market_data import Quote
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.domain.risk import HaltCause
from ibkr_grpc.services.order_changes import OrderChanges
from tests.services.fake_broker import Report, message, open_order, status
from tests.services.order_harness import harness, intent
from tests.support.waiting import eventually

SUBMITTED = OrderStatus.SUBMITTED
# CancelOrder answers on IB's first word: PendingCancel, or Cancelled when it came at once.
CANCEL_ANSWERS = {OrderStatus.PENDING_CANCEL, OrderStatus.CANCELLED}


def no_answer(order: Order) -> list[Report]:
    del order
    return []


async def test_a_new_order_is_stored_then_sent_then_acknowledged(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        result = await h.manager.place(intent("first"))
        assert result.order.status is SUBMITTED
        assert await h.event_types(result.order.order_id) == [
            OrderEventType.CREATED,
            OrderEventType.SENT,
            OrderEventType.STATUS_CHANGED,
        ]


# ---- modifications --------------------------------------------------------------------------


async def test_a_modification_is_applied_only_when_ib_confirms_it(tmp_path: Path) -> None:
    async with harness(tmp_path, acknowledgement_timeout=0.3) as h:
        placed = (await h.manager.place(intent("modify-later"))).order
        h.broker.on_modify = no_answer
        answered = await h.manager.modify(OrderChanges(placed.order_id, quantity=Decimal(12)))
        # No word from IB within the wait: the order is what IB last said.
        assert answered.terms.quantity == Decimal(10)
        requested = (await h.events(placed.order_id))[-1]
        assert requested.event_type is OrderEventType.MODIFY_REQUESTED
        assert requested.order.terms.quantity == Decimal(10)
        assert "quantity 12" in requested.detail
        # IB confirms later (openOrder with the new terms): now it changes.
        h.broker.deliver([open_order(placed, replace(placed.terms, quantity=Decimal(12)))])
        await h.manager.settled()
        modified = await h.order(placed.order_id)
        assert modified.terms.quantity == Decimal(12)
        assert (await h.event_types(placed.order_id))[-1] is OrderEventType.MODIFIED


async def test_a_modification_returns_as_soon_as_ib_confirms(tmp_path: Path) -> None:
    # The wait for IB's answer is 60 s: the call must end on IB's answer, not on the wait.
    async with harness(tmp_path, acknowledgement_timeout=60) as h:
        placed = (await h.manager.place(intent("quick"))).order
        async with asyncio.timeout(5):
            modified = await h.manager.modify(
                OrderChanges(placed.order_id, limit_price=Decimal("101.5"))
            )
        assert modified.terms.limit_price == Decimal("101.5")
        assert modified.status is SUBMITTED


@pytest.mark.parametrize("code", [104, 105, 134, 321, 329, 2102, 201, 110])
async def test_a_refused_modification_leaves_the_order_working(tmp_path: Path, code: int) -> None:
    """104 "Can't modify a filled order", 105 "Order being modified does not match original
    order", 134 "Modify order failed", 329 "Cannot change to the new order type", 2102 "Unable
    to modify this order as it is still being processed" (IB's message codes,
    https://interactivebrokers.github.io/tws-api/message_codes.html); 321 on a modification
    leaves the order live (ib_async wrapper.error's own comment); 201 and 110 on a modification
    refuse only the modification (real log: https://github.com/erdewit/ib_insync/issues/502)."""
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent(f"refused-{code}"))).order
        h.broker.on_modify = lambda order: [message(order, code)]
        with pytest.raises(CommandRefusedError) as refused:
            await h.manager.modify(OrderChanges(placed.order_id, quantity=Decimal(11)))
        assert refused.value.metadata["ib_error_code"] == str(code)
        order = await h.order(placed.order_id)
        assert order.status is SUBMITTED
        assert order.terms.quantity == Decimal(10)
        assert (await h.event_types(placed.order_id))[-1] is OrderEventType.COMMAND_REFUSED
        working = [o.order_id for o in await h.store.working_orders()]
        assert placed.order_id in working
        # Still cancellable, and CancelAllOrders reaches it.
        cancelled = await h.manager.cancel_all()
        assert [o.order_id for o in cancelled] == [placed.order_id]
        assert cancelled[0].status in CANCEL_ANSWERS


async def test_a_modification_passes_every_risk_rule(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("resting", quantity="5"))).order
        await h.limit(max_order_quantity=Decimal(10), price_collar_percent=Decimal(5))
        with pytest.raises(RiskRejectedError) as size:
            await h.manager.modify(OrderChanges(placed.order_id, quantity=Decimal(1000)))
        assert size.value.reason == "ORDER_SIZE_LIMIT_EXCEEDED"
        with pytest.raises(RiskRejectedError) as collar:
            await h.manager.modify(OrderChanges(placed.order_id, limit_price=Decimal(120)))
        assert collar.value.reason == "PRICE_OUTSIDE_COLLAR"
        assert len(h.broker.placed) == 1  # nothing of either reached IB
        assert (await h.order(placed.order_id)).terms.quantity == Decimal(5)


async def test_modifications_count_against_the_order_rate(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.limit(max_orders_per_minute=2)
        placed = (await h.manager.place(intent("rate"))).order
        await h.manager.modify(OrderChanges(placed.order_id, quantity=Decimal(11)))
        with pytest.raises(RateLimitExceededError):
            await h.manager.modify(OrderChanges(placed.order_id, quantity=Decimal(12)))


async def test_a_halt_refuses_modifications_but_not_cancels(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("halted"))).order
        await h.trading.halt(HaltCause.MANUAL, by="admin", reason="test")
        with pytest.raises(TradingHaltedError):
            await h.manager.modify(OrderChanges(placed.order_id, quantity=Decimal(500)))
        assert len(h.broker.placed) == 1
        cancelled = await h.manager.cancel(placed.order_id)
        assert cancelled.status in CANCEL_ANSWERS


# ---- risk is atomic with acceptance -----------------------------------------------------------


async def test_concurrent_orders_cannot_pass_the_position_limit(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.limit(max_position_quantity=Decimal(20))
        outcomes = await asyncio.gather(
            *(h.manager.place(intent(f"concurrent-{n}")) for n in range(6)),
            return_exceptions=True,
        )
        accepted_orders = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, RiskRejectedError)]
        assert len(accepted_orders) == 2
        assert len(refused) == 4
        assert {error.reason for error in refused} == {"POSITION_LIMIT_EXCEEDED"}
        assert len(h.broker.placed) == 2


async def test_concurrent_modifications_cannot_pass_the_position_limit(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        orders = [
            (await h.manager.place(intent(f"small-{n}", quantity="1"))).order for n in range(6)
        ]
        await h.limit(max_position_quantity=Decimal(20))
        outcomes = await asyncio.gather(
            *(h.manager.modify(OrderChanges(o.order_id, quantity=Decimal(10))) for o in orders),
            return_exceptions=True,
        )
        # 6 working orders of 1 (6 in all); each modification to 10 adds 9: one fits in 20.
        assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
        assert all(
            isinstance(o, RiskRejectedError) for o in outcomes if isinstance(o, BaseException)
        )
        working = await h.store.working_orders()
        assert sum(o.terms.quantity for o in working) == Decimal(15)


async def test_bracket_legs_pass_the_notional_and_collar_checks(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.limit(max_order_notional=Decimal(2000), price_collar_percent=Decimal(5))
        with pytest.raises(RiskRejectedError) as refused:
            await h.manager.place(
                intent("bracket", quantity="10", limit_price="100", take_profit="130")
            )
        assert refused.value.reason in {"PRICE_OUTSIDE_COLLAR", "ORDER_SIZE_LIMIT_EXCEEDED"}
        assert h.broker.placed == []


# ---- sends that fail, and sends a caller gives up on --------------------------------------------


async def test_an_order_that_never_reached_ib_is_retryable_and_sent_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.broker.writes_fail = True
        with pytest.raises(GatewayUnavailableError) as unavailable:
            await h.manager.place(intent("retry-me"))
        assert unavailable.value.retry_after is not None
        first = await h.store.find_idempotency("retry-me")
        assert first is not None
        assert (await h.order(first.order_id)).status is OrderStatus.NOT_SENT
        h.broker.writes_fail = False
        retried = await h.manager.place(intent("retry-me"))
        assert retried.order.status is SUBMITTED
        assert retried.order.order_id != first.order_id
        again = await h.manager.place(intent("retry-me"))
        assert again.order.order_id == retried.order.order_id
        assert len(h.broker.placed) == 1


async def test_no_order_is_stored_when_ids_cannot_be_reserved(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.broker.connected = False
        with pytest.raises(GatewayUnavailableError):
            await h.manager.place(intent("offline"))
        assert await h.store.find_idempotency("offline") is None


@pytest.mark.parametrize("bracket", [False, True])
async def test_a_caller_that_gives_up_cannot_split_stored_from_sent(
    tmp_path: Path, bracket: bool
) -> None:
    async with harness(tmp_path) as h:
        h.broker.gate = asyncio.Event()
        request = intent(
            "deadline", take_profit="105" if bracket else None, stop_loss="95" if bracket else None
        )
        call = asyncio.create_task(h.manager.place(request))
        await eventually(lambda: h.store.find_idempotency("deadline"))
        call.cancel()  # the RPC's deadline, between "stored" and "sent"
        with pytest.raises(asyncio.CancelledError):
            await call
        h.broker.gate.set()
        await eventually(lambda: len(h.broker.placed) == (3 if bracket else 1))
        assert h.broker.transmitted[-1] is True
        await h.manager.settled()
        replayed = await h.manager.place(request)
        assert replayed.order.status is SUBMITTED
        assert len(replayed.bracket_orders) == (2 if bracket else 0)


# ---- keys ---------------------------------------------------------------------------------------


async def test_bracket_legs_never_collide_with_a_client_key(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        long_key = "k" * 64
        bracket = await h.manager.place(intent(long_key, take_profit="105", stop_loss="95"))
        assert {leg.client_order_id for leg in bracket.bracket_orders} == {long_key}
        await h.manager.place(intent("abc", take_profit="105"))
        plain = await h.manager.place(intent("abc:take-profit", quantity="3"))
        assert plain.order.client_order_id == "abc:take-profit"
        with pytest.raises(DuplicateClientOrderIdError):
            await h.manager.place(intent("abc", quantity="4"))


async def test_a_sell_is_checked_like_a_buy(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.limit(max_position_quantity=Decimal(15))
        await h.manager.place(intent("short-1", side=Side.SELL))
        with pytest.raises(RiskRejectedError):
            await h.manager.place(intent("short-2", side=Side.SELL))


async def test_cancel_of_an_order_ib_just_filled_leaves_it_filled(tmp_path: Path) -> None:
    """IB answers a cancel of an order it has filled with 10148 "OrderId ... that needs to be
    cancelled cannot be cancelled, state: Filled." after the fill's reports (real log:
    https://github.com/erdewit/ib_insync/issues/656)."""
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("fills-first"))).order

        def fills_then_refuses(order: Order) -> list[Report]:
            return [
                status(order, OrderStatus.FILLED, filled="10"),
                message(order, 10148, "cannot be cancelled, state: Filled."),
            ]

        h.broker.on_cancel = fills_then_refuses
        answered = await h.manager.cancel(placed.order_id)
        assert answered.status is OrderStatus.FILLED
        await h.manager.settled()
        assert (await h.order(placed.order_id)).status is OrderStatus.FILLED
        types = await h.event_types(placed.order_id)
        assert OrderEventType.COMMAND_REFUSED in types
        assert OrderStatus.PENDING_CANCEL not in {
            e.order.status for e in await h.events(placed.order_id)
        }


@pytest.mark.parametrize("code", [10147, 10148, 161, 135, 136, 137])
async def test_a_refused_cancel_leaves_the_status_alone(tmp_path: Path, code: int) -> None:
    """135 "Can't find order with ID", 136 "This order cannot be cancelled", 137 (VWAP cancel
    window), 161 "Cancel attempted when order is not in a cancellable state", 10148 "cannot be
    cancelled, state:" (https://interactivebrokers.github.io/tws-api/message_codes.html); 10147
    "OrderId ... that needs to be cancelled is not found" (real log:
    https://github.com/erdewit/ib_insync/issues/690)."""
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent(f"keep-{code}"))).order
        h.broker.on_cancel = lambda order: [message(order, code)]
        with pytest.raises(CommandRefusedError):
            await h.manager.cancel(placed.order_id)
        assert (await h.order(placed.order_id)).status is SUBMITTED
        assert placed.order_id in {o.order_id for o in await h.store.working_orders()}


async def test_a_cancel_is_acknowledged_on_ibs_word(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        placed = (await h.manager.place(intent("cancel-me"))).order
        cancelled = await h.manager.cancel(placed.order_id)
        assert cancelled.status in CANCEL_ANSWERS
        await h.manager.settled()
        events = await h.events(placed.order_id)
        requested = [e.event_type for e in events].index(OrderEventType.CANCEL_REQUESTED)
        # CANCEL_REQUESTED keeps SUBMITTED: only IB's PendingCancel and Cancelled change it.
        statuses = [e.order.status for e in events[requested:]]
        assert list(dict.fromkeys(statuses)) == [
            SUBMITTED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.CANCELLED,
        ]


class HeldLines:
    """The market-data service's side, in memory: cached lookups and a held line's quote."""

    def __init__(self) -> None:
        self.lookups = 0

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        self.lookups += 1
        return replace(contract, con_id=265598, primary_exchange="NASDAQ")

    def held_quote(self, contract: ContractSpec) -> Quote | None:
        return Quote(contract, datetime.now(UTC), bid=Decimal("99.95"), ask=Decimal("100.05"))


async def test_an_order_costs_ib_one_request_when_the_market_is_held(tmp_path: Path) -> None:
    """Contract lookups come from the market-data service's cache and the arrival quote from a
    line it holds: IB sees only the placeOrder."""
    market = HeldLines()
    async with harness(tmp_path, market=market) as h:
        placed = await h.manager.place(intent("one-request"))
        assert h.broker.requests == []
        assert market.lookups == 1
        quote = placed.order.arrival_quote
        assert quote is not None
        assert (quote.bid, quote.ask) == (Decimal("99.95"), Decimal("100.05"))


async def test_without_a_held_line_the_arrival_quote_is_a_snapshot(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.manager.place(intent("snapshot"))
        assert h.broker.requests == ["contract_details", "snapshot"]
