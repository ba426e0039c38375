"""OrderService end to end: generated stubs -> real server -> simulated gateway over TCP."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from ibkr.v1 import common_pb2, order_service_pb2
from ibkr_client import ApiError
from tests.server.conftest import ACCOUNT, RunningServer
from tests.support.waiting import eventually

AAPL = common_pb2.Contract(symbol="AAPL", security_type=common_pb2.SECURITY_TYPE_STOCK)


def limit_buy(price: str, *, key: str, quantity: str = "10") -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=AAPL,
        side=common_pb2.SIDE_BUY,
        quantity=quantity,
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price=price,
        time_in_force=order_service_pb2.TIME_IN_FORCE_GTC,
        client_order_id=key,
    )


async def order_status(server: RunningServer, order_id: str) -> int:
    response = await server.client.orders.GetOrder(
        order_service_pb2.GetOrderRequest(order_id=order_id)
    )
    return response.order.status


async def test_a_limit_order_is_stored_sent_and_acknowledged(server: RunningServer) -> None:
    price = server.simulator.quote("AAPL")
    below = f"{float(price.bid) * 0.9:.2f}"
    response = await server.client.orders.PlaceOrder(limit_buy(below, key="first-order"))
    order = response.order
    assert order.order_id.startswith("ord_")
    assert order.client_order_id == "first-order"
    assert order.status == order_service_pb2.ORDER_STATUS_SUBMITTED
    assert order.broker_order_id > 0
    assert order.perm_id > 0
    assert order.contract.con_id > 0
    assert order.limit_price == below
    assert order.remaining_quantity == "10"
    assert order.arrival_quote.bid
    listed = await server.client.orders.ListOrders(
        order_service_pb2.ListOrdersRequest(account=ACCOUNT)
    )
    assert [o.order_id for o in listed.orders] == [order.order_id]


async def test_a_retry_with_the_same_key_returns_the_same_order(server: RunningServer) -> None:
    request = limit_buy("100.00", key="retry-me")
    first = await server.client.orders.PlaceOrder(request)
    second = await server.client.orders.PlaceOrder(request)
    assert second.order.order_id == first.order.order_id
    listed = await server.client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
    assert len(listed.orders) == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(limit_buy("101.00", key="retry-me"))
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "DUPLICATE_CLIENT_ORDER_ID"


async def test_bad_input_gets_every_field_violation(server: RunningServer) -> None:
    request = order_service_pb2.PlaceOrderRequest(
        contract=common_pb2.Contract(),
        quantity="1e3",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.PlaceOrder(request)
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "VALIDATION_ERROR"
    fields = {violation.field for violation in error.field_violations}
    assert fields == {"contract.symbol", "side", "quantity", "limit_price"}
    assert error.request_id


async def test_a_limit_order_fills_when_the_market_crosses_it(server: RunningServer) -> None:
    quote = server.simulator.quote("AAPL")
    limit = f"{float(quote.ask) - 1:.2f}"
    placed = await server.client.orders.PlaceOrder(limit_buy(limit, key="cross-me"))
    order_id = placed.order.order_id
    assert placed.order.status == order_service_pb2.ORDER_STATUS_SUBMITTED
    server.simulator.set_price("AAPL", float(quote.ask) - 3)
    await server.simulator.step()

    async def filled() -> bool:
        return await order_status(server, order_id) == order_service_pb2.ORDER_STATUS_FILLED

    await eventually(filled, message="the crossed limit order never filled")
    fills = await server.client.orders.ListFills(
        order_service_pb2.ListFillsRequest(order_id=order_id)
    )
    assert len(fills.fills) == 1
    fill = fills.fills[0]
    assert fill.quantity == "10"
    assert float(fill.price) <= float(limit)
    assert fill.reference_price
    assert fill.slippage

    async def commission_reported() -> bool:
        page = await server.client.orders.ListFills(
            order_service_pb2.ListFillsRequest(order_id=order_id)
        )
        return bool(page.fills[0].commission)

    await eventually(commission_reported)


async def test_cancel_a_working_order(server: RunningServer) -> None:
    placed = await server.client.orders.PlaceOrder(limit_buy("50.00", key="cancel-me"))
    cancelled = await server.client.orders.CancelOrder(
        order_service_pb2.CancelOrderRequest(order_id=placed.order.order_id)
    )
    assert cancelled.order.status in {
        order_service_pb2.ORDER_STATUS_PENDING_CANCEL,
        order_service_pb2.ORDER_STATUS_CANCELLED,
    }

    async def done() -> bool:
        return (
            await order_status(server, placed.order.order_id)
            == order_service_pb2.ORDER_STATUS_CANCELLED
        )

    await eventually(done)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.CancelOrder(
            order_service_pb2.CancelOrderRequest(order_id=placed.order.order_id)
        )
    assert ApiError.from_rpc_error(raised.value).reason == "ORDER_NOT_MODIFIABLE"


async def test_an_unknown_order_is_not_found(server: RunningServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.GetOrder(
            order_service_pb2.GetOrderRequest(order_id="ord_missing")
        )
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "ORDER_NOT_FOUND"
