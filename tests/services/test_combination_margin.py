"""The margin check of combination orders (issue #17): IB's what-if initial margin change
against the account's AvailableFunds, before anything is sent.

IB answers a what-if order (whatIf set on placeOrder) with an openOrder whose OrderState holds
the initial margin before, change and after (https://interactivebrokers.github.io/tws-api/
margin.html; ib_async's IB.whatIfOrderAsync ends the request on that openOrder, wrapper.py
openOrder). AvailableFunds is equity with loan value less initial margin, IB's account value
of that name (https://interactivebrokers.github.io/tws-api/interfaceIBApi_1_1EWrapper.html,
updateAccountValue)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderType, Side
from ibkr_grpc.domain.errors import (
    GatewayUnavailableError,
    InsufficientFundsError,
    RiskRejectedError,
)
from ibkr_grpc.domain.orders import ComboLeg, OrderIntent
from ibkr_grpc.services.order_changes import OrderChanges
from tests.services.fake_broker import FakeBroker
from tests.services.order_harness import harness, intent


def pair_trade(key: str) -> OrderIntent:
    """A combination of two stock legs (buy one, sell the other) at a net limit price."""
    single = intent(key, quantity="100", limit_price="1.50")
    return replace(
        single,
        terms=replace(single.terms, order_type=OrderType.LIMIT),
        combo_legs=(
            ComboLeg(ContractSpec(symbol="AAPL"), Side.BUY),
            ComboLeg(ContractSpec(symbol="MSFT"), Side.SELL),
        ),
    )


async def test_a_combination_needing_more_margin_than_available_is_not_sent(
    tmp_path: Path,
) -> None:
    broker = FakeBroker(initial_margin_change=Decimal("1500000.004"), funds=Decimal(1_000_000))
    async with harness(tmp_path, broker=broker) as h:
        with pytest.raises(InsufficientFundsError) as raised:
            await h.manager.place(pair_trade("too-big"))
        assert h.broker.placed == []
        assert "what_if" in h.broker.requests
        assert await h.store.working_orders() == []
    error = raised.value
    assert (error.reason, error.kind.value) == ("INSUFFICIENT_FUNDS", "FAILED_PRECONDITION")
    assert error.metadata == {
        "account": "DU1234567",
        "required": "1500000.00",
        "available": "1000000.00",
    }
    assert error.precondition_violations[0].type == "MARGIN"


async def test_a_combination_within_the_available_funds_is_sent(tmp_path: Path) -> None:
    broker = FakeBroker(initial_margin_change=Decimal(1_000_000), funds=Decimal(1_000_000))
    async with harness(tmp_path, broker=broker) as h:
        placed = await h.manager.place(pair_trade("fits"))
        assert [order.order_id for order in h.broker.placed] == [placed.order.order_id]
        assert h.broker.requests.count("what_if") == 1


async def test_a_combination_ib_gives_no_what_if_for_is_refused_retryably(
    tmp_path: Path,
) -> None:
    """No answer within the bound: refused as IB_CONNECTION_FAILED, never sent unchecked; the
    mutation lock is not held meanwhile (a single-leg order goes through)."""
    broker = FakeBroker(what_if_gate=asyncio.Event())
    async with harness(tmp_path, broker=broker, acknowledgement_timeout=0.5) as h:
        waiting = asyncio.create_task(h.manager.place(pair_trade("no-answer")))
        await asyncio.sleep(0.05)
        single = await h.manager.place(intent("meanwhile"))
        with pytest.raises(GatewayUnavailableError) as raised:
            await waiting
        assert [order.order_id for order in h.broker.placed] == [single.order.order_id]
    assert raised.value.reason == "IB_CONNECTION_FAILED"
    assert raised.value.retry_after is not None


async def test_a_what_if_without_margin_figures_or_funds_is_refused_retryably(
    tmp_path: Path,
) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "funds").mkdir()
    no_figures = FakeBroker(initial_margin_change=None)
    async with harness(tmp_path / "figures", broker=no_figures) as h:
        with pytest.raises(GatewayUnavailableError):
            await h.manager.place(pair_trade("no-figures"))
        assert h.broker.placed == []
    async with harness(tmp_path / "funds", broker=FakeBroker(funds=None)) as h:
        with pytest.raises(GatewayUnavailableError):
            await h.manager.place(pair_trade("no-funds"))
        assert h.broker.placed == []


async def test_a_single_leg_order_asks_ib_for_no_what_if(tmp_path: Path) -> None:
    broker = FakeBroker(initial_margin_change=Decimal(10**9), funds=Decimal(0))
    async with harness(tmp_path, broker=broker) as h:
        await h.manager.place(intent("single"))
        assert "what_if" not in h.broker.requests
        assert len(h.broker.placed) == 1


async def test_a_combination_the_local_rules_refuse_costs_ib_no_what_if(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.limit(denied_symbols=frozenset({"MSFT"}))
        with pytest.raises(RiskRejectedError) as raised:
            await h.manager.place(pair_trade("denied-leg"))
        assert "what_if" not in h.broker.requests
        assert h.broker.placed == []
    assert raised.value.reason == "SYMBOL_NOT_ALLOWED"


async def test_a_combination_enlarged_by_a_modify_is_margin_checked_for_the_added_units(
    tmp_path: Path,
) -> None:
    """IB checks margin on a modification as on a new order (an order's what-if is the margin
    it would add: https://interactivebrokers.github.io/tws-api/margin.html); the server asks
    IB's what-if about the added units before it sends the larger order."""
    broker = FakeBroker(initial_margin_change=Decimal(600_000), funds=Decimal(1_000_000))
    async with harness(tmp_path, broker=broker) as h:
        placed = await h.manager.place(pair_trade("grows"))
        assert h.broker.previewed[-1].terms.quantity == Decimal(100)
        h.broker.initial_margin_change = Decimal(1_200_000)
        with pytest.raises(InsufficientFundsError):
            await h.manager.modify(OrderChanges(placed.order.order_id, quantity=Decimal(150)))
        assert h.broker.previewed[-1].terms.quantity == Decimal(50)
        assert len(h.broker.placed) == 1  # the larger order was never sent
        assert (await h.order(placed.order.order_id)).terms.quantity == Decimal(100)
        h.broker.initial_margin_change = Decimal(300_000)
        modified = await h.manager.modify(
            OrderChanges(placed.order.order_id, quantity=Decimal(150))
        )
        assert modified.terms.quantity == Decimal(150)
        assert len(h.broker.placed) == 2


async def test_a_combination_made_smaller_or_repriced_asks_ib_for_no_what_if(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        placed = await h.manager.place(pair_trade("shrinks"))
        asked = h.broker.requests.count("what_if")
        await h.manager.modify(OrderChanges(placed.order.order_id, quantity=Decimal(50)))
        await h.manager.modify(OrderChanges(placed.order.order_id, limit_price=Decimal("1.40")))
        assert h.broker.requests.count("what_if") == asked
        assert len(h.broker.placed) == 3


async def test_a_combination_modify_the_local_rules_refuse_costs_ib_no_what_if(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        placed = await h.manager.place(pair_trade("over-limit"))
        asked = h.broker.requests.count("what_if")
        await h.limit(max_order_quantity=Decimal(120))
        with pytest.raises(RiskRejectedError) as raised:
            await h.manager.modify(OrderChanges(placed.order.order_id, quantity=Decimal(150)))
        assert h.broker.requests.count("what_if") == asked
        assert len(h.broker.placed) == 1
    assert raised.value.reason == "ORDER_SIZE_LIMIT_EXCEEDED"
