"""One decimal form in every response: trimmed (no trailing zeros, never an exponent), so an
order reads the same in PlaceOrder, ModifyOrder, GetOrder and every one of its events, whether
the value came from the caller or from IB."""

from __future__ import annotations

import re

from ibkr.v1 import order_service_pb2, portfolio_service_pb2
from tests.server.conftest import ACCOUNT, RunningServer
from tests.server.test_orders import limit_buy

# The canonical form: plain notation; a fraction never ends in 0.
CANONICAL = re.compile(r"-?[0-9]+(\.[0-9]*[1-9])?")


async def test_an_order_reads_the_same_in_every_answer_and_event(server: RunningServer) -> None:
    placed = await server.client.orders.PlaceOrder(limit_buy("150.00", key="trimmed"))
    assert placed.order.limit_price == "150"
    modified = await server.client.orders.ModifyOrder(
        order_service_pb2.ModifyOrderRequest(order_id=placed.order.order_id, limit_price="151.50")
    )
    assert modified.order.limit_price == "151.5"
    got = await server.client.orders.GetOrder(
        order_service_pb2.GetOrderRequest(order_id=placed.order.order_id)
    )
    assert got.order.limit_price == "151.5"
    events = server.client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(replay_from_start=True)
    )
    prices = []
    async for message in events:
        if message.WhichOneof("payload") == "marker":
            break
        prices.append(message.order_event.order.limit_price)
    events.cancel()
    # Every event before the modification says 150, every one after 151.5.
    assert prices[0] == "150"
    assert prices[-1] == "151.5"
    assert set(prices) == {"150", "151.5"}


async def test_account_values_from_ib_are_in_the_canonical_form(server: RunningServer) -> None:
    response = await server.client.portfolio.GetAccountSummary(
        portfolio_service_pb2.GetAccountSummaryRequest(account=ACCOUNT)
    )
    summary = response.summary
    assert CANONICAL.fullmatch(summary.net_liquidation)
    numeric = [value.value for value in summary.values if re.fullmatch(r"-?[0-9.]+", value.value)]
    assert numeric
    assert all(CANONICAL.fullmatch(value) for value in numeric), numeric
