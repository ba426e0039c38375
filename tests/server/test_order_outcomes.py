"""Order outcomes on IB's word, end to end: generated stubs -> real server -> the simulated
gateway over TCP. A refused modification leaves the order working; a cancel IB refuses because
the order filled first leaves it FILLED; ModifyOrder answers on IB's confirmation; an order IB
never received is settled NOT_SENT and a retry sends it once; bracket legs never collide with a
client's key."""

from __future__ import annotations

import asyncio
import time

import grpc
import grpc.aio
import pytest

from ibkr.v1 import common_pb2, order_service_pb2, risk_service_pb2
from ibkr_client import ApiError
from tests.server.conftest import ACCOUNT, RunningServer
from tests.server.test_order_lifecycle import collecting
from tests.server.test_orders import AAPL, limit_buy, order_status
from tests.support.waiting import eventually

SUBMITTED = order_service_pb2.ORDER_STATUS_SUBMITTED
FILLED = order_service_pb2.ORDER_STATUS_FILLED
NOT_SENT = order_service_pb2.ORDER_STATUS_NOT_SENT
EVENT = order_service_pb2.OrderEventType
PLACE_ORDER = 3  # the TWS API's placeOrder message id


def resting_price(server: RunningServer) -> str:
    return f"{float(server.simulator.quote('AAPL').bid) * 0.9:.2f}"


async def get_order(server: RunningServer, order_id: str) -> order_service_pb2.Order:
    request = order_service_pb2.GetOrderRequest(order_id=order_id)
    return (await server.client.orders.GetOrder(request)).order


async def test_a_modification_ib_refuses_leaves_the_order_working(server: RunningServer) -> None:
    """The simulated gateway refuses a modification to a price off the minimum tick with 110
    "The price does not conform to the minimum price variation for this contract." (IB's
    message codes; a real log of such a refused modify whose "original order is still open":
    https://github.com/erdewit/ib_insync/issues/502); the order keeps working at its old
    price, and can still be cancelled."""
    price = resting_price(server)
    placed = (await server.client.orders.PlaceOrder(limit_buy(price, key="refuse-modify"))).order
    assert placed.status == SUBMITTED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.ModifyOrder(
            order_service_pb2.ModifyOrderRequest(order_id=placed.order_id, limit_price="50.123")
        )
    error = ApiError.from_rpc_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "IB_COMMAND_REFUSED")
    assert error.metadata["ib_error_code"] == "110"
    order = await get_order(server, placed.order_id)
    assert order.status == SUBMITTED
    assert order.limit_price == placed.limit_price
    cancelled = await server.client.orders.CancelOrder(
        order_service_pb2.CancelOrderRequest(order_id=placed.order_id)
    )
    assert cancelled.order.status in {
        order_service_pb2.ORDER_STATUS_PENDING_CANCEL,
        order_service_pb2.ORDER_STATUS_CANCELLED,
    }
    await eventually(
        lambda: _status_is(server, placed.order_id, order_service_pb2.ORDER_STATUS_CANCELLED)
    )


async def _status_is(server: RunningServer, order_id: str, status: int) -> bool:
    return await order_status(server, order_id) == status


async def test_modify_order_answers_on_ibs_confirmation(server: RunningServer) -> None:
    """The server waits at most 3 s for IB (order_acknowledgement_timeout_seconds in the test
    settings); PlaceOrder and ModifyOrder both answer on IB's word, well before it."""
    price = resting_price(server)
    started = time.monotonic()
    placed = (await server.client.orders.PlaceOrder(limit_buy(price, key="quick-modify"))).order
    placing = time.monotonic() - started
    started = time.monotonic()
    modified = await server.client.orders.ModifyOrder(
        order_service_pb2.ModifyOrderRequest(order_id=placed.order_id, quantity="12")
    )
    modifying = time.monotonic() - started
    assert modified.order.quantity == "12"
    assert modified.order.status == SUBMITTED
    assert placing < 1.5
    assert modifying < 1.5


async def test_cancelling_an_order_ib_just_filled_leaves_it_filled(server: RunningServer) -> None:
    """The cancel reaches IB after the order filled: IB answers 10148 "cannot be cancelled,
    state: Filled" after the fill (real log: https://github.com/erdewit/ib_insync/issues/656).
    The simulator holds requests (delay-responses) while the price fills the order."""
    price = resting_price(server)
    async with collecting(server) as collector:
        placed = (await server.client.orders.PlaceOrder(limit_buy(price, key="late-cancel"))).order
        server.simulator.delay_responses(1.0)
        cancel = asyncio.ensure_future(
            server.client.orders.CancelOrder(
                order_service_pb2.CancelOrderRequest(order_id=placed.order_id)
            )
        )

        def requested() -> bool:
            return any(e.type == EVENT.ORDER_EVENT_TYPE_CANCEL_REQUESTED for e in collector.events)

        await eventually(requested)
        server.simulator.set_price("AAPL", float(price) - 1)
        answered = await cancel
        server.simulator.delay_responses(0)
        assert answered.order.status == FILLED

        def refused() -> bool:
            return any(
                e.type == EVENT.ORDER_EVENT_TYPE_COMMAND_REFUSED and "10148" in e.detail
                for e in collector.events
            )

        await eventually(refused, message="IB's 10148 was not recorded as a refused command")
        mine = [e for e in collector.events if e.order.order_id == placed.order_id]
        statuses = {e.order.status for e in mine}
        assert order_service_pb2.ORDER_STATUS_PENDING_CANCEL not in statuses
        assert order_service_pb2.ORDER_STATUS_CANCELLED not in statuses
    assert await order_status(server, placed.order_id) == FILLED


async def test_an_order_ib_never_received_is_sent_once_on_retry(server: RunningServer) -> None:
    """The connection drops while the order is still in the gateway's inbox: IB never saw it.
    After reconnecting, IB has no open order, completed order or execution of it, so it is
    NOT_SENT, and a retry with the same key sends it, once."""
    price = resting_price(server)
    request = limit_buy(price, key="lost-in-transit")
    async with collecting(server) as collector:
        server.simulator.delay_responses(30, frozenset({PLACE_ORDER}))
        call = asyncio.ensure_future(server.client.orders.PlaceOrder(request))

        def sent() -> bool:
            return any(e.type == EVENT.ORDER_EVENT_TYPE_SENT for e in collector.events)

        await eventually(sent, within=15)
        await server.simulator.drop_connections()
        server.simulator.delay_responses(0)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        error = ApiError.from_rpc_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "IB_CONNECTION_FAILED")
        lost_id = next(
            e.order.order_id for e in collector.events if e.type == EVENT.ORDER_EVENT_TYPE_SENT
        )
    await server.wait_until_ready()
    await eventually(lambda: _status_is(server, lost_id, NOT_SENT), within=15)
    retried = await server.client.orders.PlaceOrder(request)
    assert retried.order.status == SUBMITTED
    assert retried.order.order_id != lost_id
    again = await server.client.orders.PlaceOrder(request)
    assert again.order.order_id == retried.order.order_id
    assert server.simulator.status().open_orders == 1


async def test_bracket_legs_never_collide_with_a_clients_key(server: RunningServer) -> None:
    price = float(resting_price(server))
    bracket = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=AAPL,
        side=common_pb2.SIDE_BUY,
        quantity="5",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price=f"{price:.2f}",
        take_profit=order_service_pb2.TakeProfitLeg(limit_price=f"{price + 5:.2f}"),
        stop_loss=order_service_pb2.StopLossLeg(stop_price=f"{price - 5:.2f}"),
        client_order_id="abc",
    )
    placed = await server.client.orders.PlaceOrder(bracket)
    assert {leg.client_order_id for leg in placed.bracket_orders} == {"abc"}
    plain = await server.client.orders.PlaceOrder(limit_buy(f"{price:.2f}", key="abc:take-profit"))
    assert plain.order.client_order_id == "abc:take-profit"
    long_key = "k" * 64
    bracket.client_order_id = long_key
    assert (await server.client.orders.PlaceOrder(bracket)).order.client_order_id == long_key


async def test_a_halt_refuses_a_modification_and_lets_a_cancel_through(
    server: RunningServer,
) -> None:
    price = resting_price(server)
    placed = (await server.client.orders.PlaceOrder(limit_buy(price, key="halt-modify"))).order
    await server.client.risk.HaltTrading(risk_service_pb2.HaltTradingRequest(reason="test"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.orders.ModifyOrder(
            order_service_pb2.ModifyOrderRequest(order_id=placed.order_id, quantity="500")
        )
    error = ApiError.from_rpc_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TRADING_HALTED")
    assert (await get_order(server, placed.order_id)).quantity == "10"
    await server.client.orders.CancelOrder(
        order_service_pb2.CancelOrderRequest(order_id=placed.order_id)
    )
    await eventually(
        lambda: _status_is(server, placed.order_id, order_service_pb2.ORDER_STATUS_CANCELLED)
    )
