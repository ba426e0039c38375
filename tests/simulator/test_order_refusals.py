"""Orders IB refuses, each with IB's own code and the order state that follows.

Codes and texts are IB's message-code table
(https://interactivebrokers.github.io/tws-api/message_codes.html, and the legacy table
http://www.interactivebrokers.com/php/apiUsersGuide/apiguide/tables/api_message_codes.htm).
ib_async (wrapper.py `error`) treats 110 and 434 as warnings, except 110 on a new order.
"""

from __future__ import annotations

from ib_async import IB, Contract, LimitOrder, MarketOrder, Stock, Trade

from ibkr_simulator import Simulator
from tests.simulator.support import connected, eventually


async def _aapl(ib: IB) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda request, code, text, _contract: seen.append((request, code, text))
    return seen


def _codes_for(errors: list[tuple[int, int, str]], trade: Trade) -> list[int]:
    return [code for request, code, _ in errors if request == trade.order.orderId]


async def test_an_off_tick_price_on_a_new_order_is_error_110(simulator: Simulator) -> None:
    # IB 110: "The price does not conform to the minimum price variation for this contract."
    async with connected(simulator) as ib:
        errors = _errors(ib)
        trade = ib.placeOrder(await _aapl(ib), LimitOrder("BUY", 1, 180.001))
        await eventually(lambda: _codes_for(errors, trade) == [110])
        [(_, _, text)] = errors
        assert (
            text == "The price does not conform to the minimum price variation for this contract."
        )
        # ib_async ends a new order on 110 ("invalid price for a new order must cancel it").
        assert trade.orderStatus.status == "Cancelled"
        assert simulator.status().open_orders == 0


async def test_an_off_tick_modification_is_error_110_and_the_order_keeps_working(
    simulator: Simulator,
) -> None:
    # A real log of a modify refused with 110 while "original order is still open":
    # https://github.com/erdewit/ib_insync/issues/502
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contract = await _aapl(ib)
        order = LimitOrder("BUY", 1, 150.0)
        trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        order.lmtPrice = 150.005
        ib.placeOrder(contract, order)
        await eventually(lambda: _codes_for(errors, trade) == [110])
        # A warning for ib_async on a live order: ValidationError, the trade is kept.
        assert trade.orderStatus.status == "ValidationError"
        [working] = await ib.reqAllOpenOrdersAsync()
        assert working.order.lmtPrice == 150.0
        assert working.orderStatus.status == "Submitted"


async def test_a_zero_quantity_is_error_434_which_ib_async_keeps_as_a_warning(
    simulator: Simulator,
) -> None:
    # IB 434: "The order size cannot be zero."; ib_async lists 434 among its warning codes.
    async with connected(simulator) as ib:
        errors = _errors(ib)
        trade = ib.placeOrder(await _aapl(ib), LimitOrder("BUY", 0, 180.0))
        await eventually(lambda: _codes_for(errors, trade) == [434])
        assert errors[0][2] == "The order size cannot be zero."
        assert trade.orderStatus.status == "ValidationError"
        assert simulator.status().open_orders == 0
        assert await ib.reqAllOpenOrdersAsync() == []


async def test_modifying_a_filled_order_is_error_104(simulator: Simulator) -> None:
    # IB 104: "Can't modify a filled order."
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contract = await _aapl(ib)
        order = LimitOrder("BUY", 1, 190.0)
        trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        simulator.set_price("AAPL", 185.0)
        await eventually(lambda: trade.orderStatus.status == "Filled")
        # ib_async refuses to modify a trade it knows is done; send it as a script would.
        order.lmtPrice = 189.0
        ib.client.placeOrder(order.orderId, contract, order)  # type: ignore[no-untyped-call]  # untyped in ib_async
        await eventually(lambda: _codes_for(errors, trade) == [104])
        assert errors[-1][2] == "Can't modify a filled order."
        assert trade.orderStatus.status == "Filled"


async def test_an_order_id_below_one_already_used_is_error_103(simulator: Simulator) -> None:
    # IB 103 "Duplicate order ID": "order ID that is less than or equal to the order ID of a
    # previous order from this client" (legacy message-code table).
    async with connected(simulator) as ib:
        errors = _errors(ib)
        contract = await _aapl(ib)
        later = ib.placeOrder(contract, LimitOrder("BUY", 1, 150.0))
        await eventually(lambda: later.orderStatus.status == "Submitted")
        earlier_order = LimitOrder("BUY", 1, 151.0)
        earlier_order.orderId = later.order.orderId - 1
        earlier = ib.placeOrder(contract, earlier_order)
        await eventually(lambda: _codes_for(errors, earlier) == [103])
        assert earlier.orderStatus.status == "Cancelled"
        assert simulator.status().open_orders == 1


async def test_a_margin_reject_is_error_201_then_order_status_inactive(
    simulator: Simulator,
) -> None:
    # IB's risk checks reject after receiving the order: error 201 and orderStatus Inactive,
    # "received by the system but no longer active because it was rejected or canceled" (IB's
    # EWrapper.orderStatus doc; https://github.com/brndnmtthws/thetagang/pull/709 and
    # https://github.com/nautechsystems/nautilus_trader/pull/3723 describe the pair).
    async with connected(simulator) as ib:
        errors = _errors(ib)
        trade = ib.placeOrder(await _aapl(ib), MarketOrder("BUY", 30_000))
        statuses: list[str] = []
        trade.statusEvent += lambda updated: statuses.append(updated.orderStatus.status)
        await eventually(lambda: trade.orderStatus.status == "Inactive")
        assert _codes_for(errors, trade) == [201]
        assert "MUST EXCEED THE INITIAL MARGIN" in errors[0][2]
        # ib_async marks the trade Cancelled on the error, then takes IB's Inactive.
        assert statuses == ["Cancelled", "Inactive"]
        assert trade.orderStatus.permId > 0
        assert trade.orderStatus.remaining == 30_000
        assert trade.isDone()
