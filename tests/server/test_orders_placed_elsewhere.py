"""Orders and fills of another API client, end to end: a second ib_async client trades at the
simulated gateway whose Master API client ID is the server's, and the server records them with
their origin ("if the client is set as the Master client, it will automatically receive order
status and trade callbacks from orders placed from other clients":
https://interactivebrokers.github.io/tws-api/order_submission.html)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Stock

from ibkr.v1 import order_service_pb2, portfolio_service_pb2
from ibkr_grpc.store.database import Database
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, running_server, simulator_config
from tests.support.waiting import eventually

SERVER_CLIENT_ID = 11  # tests.server.conftest.server_settings
OTHER_CLIENT_ID = 21
OTHER_API_CLIENT = order_service_pb2.ORDER_ORIGIN_OTHER_API_CLIENT


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with Simulator(simulator_config(master_client_id=SERVER_CLIENT_ID)) as running:
        yield running


@asynccontextmanager
async def other_client(simulator: Simulator) -> AsyncIterator[IB]:
    ib = IB()
    await ib.connectAsync(simulator.host, simulator.port, clientId=OTHER_CLIENT_ID, timeout=10)
    try:
        yield ib
    finally:
        ib.disconnect()


async def qualified(ib: IB) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


async def orders_from_elsewhere(server: RunningServer) -> list[order_service_pb2.Order]:
    response = await server.client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
    return [order for order in response.orders if order.origin == OTHER_API_CLIENT]


async def test_another_clients_order_and_fill_show_up(server: RunningServer) -> None:
    async with other_client(server.simulator) as ib:
        contract = await qualified(ib)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 3, account=ACCOUNT))

        async def recorded_filled() -> bool:
            found = await orders_from_elsewhere(server)
            return bool(found) and found[0].status == order_service_pb2.ORDER_STATUS_FILLED

        await eventually(recorded_filled, message="the other client's order never showed up")
    (order,) = await orders_from_elsewhere(server)
    assert order.broker_client_id == OTHER_CLIENT_ID
    assert order.broker_order_id == trade.order.orderId
    assert order.perm_id == trade.order.permId
    assert order.client_order_id == ""
    assert order.filled_quantity == "3"

    async def fill_with_commission() -> bool:
        fills = await server.client.orders.ListFills(
            order_service_pb2.ListFillsRequest(order_id=order.order_id)
        )
        return len(fills.fills) == 1 and fills.fills[0].commission != ""

    await eventually(fill_with_commission, message="the fill or its commission is missing")

    async def position_counts_it() -> bool:
        positions = await server.client.portfolio.ListPositions(
            portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT, symbol="AAPL")
        )
        return [p.quantity for p in positions.positions] == ["3"]

    await eventually(position_counts_it)


async def test_orders_placed_while_the_server_was_away_are_found_at_sync(
    simulator: Simulator, database: Database
) -> None:
    async with other_client(simulator) as ib:
        contract = await qualified(ib)
        below = round(simulator.quote("AAPL").bid * 0.9, 2)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 2, below, account=ACCOUNT, tif="GTC"))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        async with running_server(simulator, database) as server:
            (order,) = await orders_from_elsewhere(server)
            assert order.status == order_service_pb2.ORDER_STATUS_SUBMITTED
            assert order.perm_id == trade.order.permId
            assert order.quantity == "2"
