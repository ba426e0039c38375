"""Orders across brackets, disconnects, stream resumption and server restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import grpc
import grpc.aio
import pytest

from ibkr.v1 import common_pb2, gateway_service_pb2, order_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.store.database import Database
from tests.server.conftest import ACCOUNT, RunningServer, running_server
from tests.server.test_orders import AAPL, limit_buy, order_status
from tests.support.waiting import eventually

FILLED = order_service_pb2.ORDER_STATUS_FILLED
CANCELLED = order_service_pb2.ORDER_STATUS_CANCELLED


class EventCollector:
    """Follows StreamOrderEvents in the background and keeps everything it receives."""

    def __init__(self, server: RunningServer, after_sequence: int = 0) -> None:
        self.responses: list[order_service_pb2.StreamOrderEventsResponse] = []
        request = order_service_pb2.StreamOrderEventsRequest(after_sequence=after_sequence)
        self._call = server.client.orders.StreamOrderEvents(request)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for response in self._call:
            self.responses.append(response)

    @property
    def events(self) -> list[order_service_pb2.OrderEvent]:
        return [r.order_event for r in self.responses if r.WhichOneof("payload") == "order_event"]

    def markers(self) -> list[int]:
        return [r.marker.type for r in self.responses if r.WhichOneof("payload") == "marker"]

    async def close(self) -> None:
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def collecting(
    server: RunningServer, after_sequence: int = 0
) -> AsyncIterator[EventCollector]:
    collector = EventCollector(server, after_sequence)
    await eventually(lambda: common_pb2.STREAM_MARKER_TYPE_REPLAY_COMPLETE in collector.markers())
    try:
        yield collector
    finally:
        await collector.close()


async def test_a_bracket_stop_leg_cancels_when_the_profit_leg_fills(server: RunningServer) -> None:
    quote = server.simulator.quote("AAPL")
    ask = float(quote.ask)
    request = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=AAPL,
        side=common_pb2.SIDE_BUY,
        quantity="5",
        order_type=order_service_pb2.ORDER_TYPE_MARKET,
        take_profit=order_service_pb2.TakeProfitLeg(limit_price=f"{ask + 2:.2f}"),
        stop_loss=order_service_pb2.StopLossLeg(stop_price=f"{ask - 5:.2f}"),
        client_order_id="bracket-1",
    )
    placed = await server.client.orders.PlaceOrder(request)
    parent = placed.order
    take_profit, stop_loss = placed.bracket_orders
    assert parent.bracket_role == order_service_pb2.BRACKET_ROLE_PARENT
    assert list(parent.child_order_ids) == [take_profit.order_id, stop_loss.order_id]
    assert take_profit.parent_order_id == stop_loss.parent_order_id == parent.order_id
    assert take_profit.side == stop_loss.side == common_pb2.SIDE_SELL
    assert take_profit.oca_group == stop_loss.oca_group != ""

    async def parent_filled() -> bool:
        return await order_status(server, parent.order_id) == FILLED

    await server.simulator.step()
    await eventually(parent_filled, message="the bracket's market entry never filled")
    server.simulator.set_price("AAPL", ask + 4)
    await server.simulator.step()

    async def exits_settled() -> bool:
        return (
            await order_status(server, take_profit.order_id) == FILLED
            and await order_status(server, stop_loss.order_id) == CANCELLED
        )

    await eventually(exits_settled, message="take profit did not fill or stop loss did not cancel")


async def test_modify_changes_a_working_order_at_ib(server: RunningServer) -> None:
    placed = await server.client.orders.PlaceOrder(limit_buy("50.00", key="modify-me"))
    modified = await server.client.orders.ModifyOrder(
        order_service_pb2.ModifyOrderRequest(
            order_id=placed.order.order_id, limit_price="51.50", quantity="12"
        )
    )
    assert Decimal(modified.order.limit_price) == Decimal("51.5")
    assert modified.order.quantity == "12"
    assert modified.order.status == order_service_pb2.ORDER_STATUS_SUBMITTED


async def test_cancel_all_cancels_every_working_order(server: RunningServer) -> None:
    for index in range(3):
        await server.client.orders.PlaceOrder(limit_buy(f"5{index}.00", key=f"many-{index}"))
    response = await server.client.orders.CancelAllOrders(
        order_service_pb2.CancelAllOrdersRequest(account=ACCOUNT)
    )
    assert len(response.orders) == 3

    async def all_cancelled() -> bool:
        listed = await server.client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
        return all(order.status == CANCELLED for order in listed.orders)

    await eventually(all_cancelled)


async def test_a_fill_while_disconnected_is_reported_exactly_once(server: RunningServer) -> None:
    simulator = server.simulator
    async with collecting(server) as collector:
        ask = float(simulator.quote("AAPL").ask)
        placed = await server.client.orders.PlaceOrder(limit_buy(f"{ask - 1:.2f}", key="away"))
        order_id = placed.order.order_id
        refusing = asyncio.create_task(simulator.refuse_connections(1.0))
        await eventually(lambda: not simulator.status().client_ids)
        simulator.set_price("AAPL", ask - 3)
        await simulator.step()
        await refusing

        async def ready_and_filled() -> bool:
            status = await server.client.gateway.GetGatewayStatus(
                gateway_service_pb2.GetGatewayStatusRequest()
            )
            ready = status.status.state == gateway_service_pb2.CONNECTION_STATE_READY
            return ready and await order_status(server, order_id) == FILLED

        await eventually(ready_and_filled, within=20, message="no reconnect or no reconciled fill")
        await eventually(
            lambda: common_pb2.STREAM_MARKER_TYPE_GATEWAY_RECONCILED in collector.markers()
        )
        fills = [
            event
            for event in collector.events
            if event.type == order_service_pb2.ORDER_EVENT_TYPE_FILL
            and event.order.order_id == order_id
        ]
        assert len(fills) == 1
        assert common_pb2.STREAM_MARKER_TYPE_GATEWAY_DISCONNECTED in collector.markers()
    listed = await server.client.orders.ListFills(
        order_service_pb2.ListFillsRequest(order_id=order_id)
    )
    assert len(listed.fills) == 1


async def test_a_client_resumes_the_event_stream_without_gap_or_duplicate(
    server: RunningServer,
) -> None:
    async with collecting(server) as first:
        await server.client.orders.PlaceOrder(limit_buy("40.00", key="resume-1"))
        await eventually(lambda: len(first.events) >= 2)
    seen = first.events
    last = seen[-1].sequence
    await server.client.orders.PlaceOrder(limit_buy("41.00", key="resume-2"))
    await server.client.orders.PlaceOrder(limit_buy("42.00", key="resume-3"))
    stored = await server.application.orders.events_after(0)
    async with collecting(server, after_sequence=last) as second:
        await eventually(lambda: len(seen) + len(second.events) >= len(stored))
    sequences = [event.sequence for event in seen + second.events]
    assert sequences == sorted(set(sequences))
    assert sequences == [event.sequence for event in stored]


async def test_nothing_is_lost_across_a_server_restart(
    server: RunningServer, database: Database
) -> None:
    simulator = server.simulator
    ask = float(simulator.quote("AAPL").ask)
    placed = await server.client.orders.PlaceOrder(limit_buy(f"{ask - 1:.2f}", key="restart"))
    order_id = placed.order.order_id
    await server.application.stop(grace=1)
    simulator.set_price("AAPL", ask - 3)
    await simulator.step()
    async with running_server(simulator, database) as restarted:
        assert await order_status(restarted, order_id) == FILLED
        fills = await restarted.client.orders.ListFills(
            order_service_pb2.ListFillsRequest(order_id=order_id)
        )
        assert len(fills.fills) == 1
        again = await restarted.client.orders.PlaceOrder(limit_buy("10.00", key="after-restart"))
        assert again.order.broker_order_id > placed.order.broker_order_id


async def replayed(
    server: RunningServer, request: order_service_pb2.StreamOrderEventsRequest
) -> list[order_service_pb2.OrderEvent]:
    """The events a stream replays before its REPLAY_COMPLETE marker."""
    events: list[order_service_pb2.OrderEvent] = []
    call = server.client.orders.StreamOrderEvents(request)
    try:
        async for response in call:
            if response.WhichOneof("payload") == "order_event":
                events.append(response.order_event)
            elif response.marker.type == common_pb2.STREAM_MARKER_TYPE_REPLAY_COMPLETE:
                return events
    finally:
        call.cancel()
    return events


async def test_the_event_log_replays_from_the_start_or_its_newest_events(
    server: RunningServer,
) -> None:
    for index in range(2):
        await server.client.orders.PlaceOrder(limit_buy(f"4{index}.00", key=f"replay-{index}"))
    everything = await replayed(
        server, order_service_pb2.StreamOrderEventsRequest(replay_from_start=True)
    )
    sequences = [event.sequence for event in everything]
    assert sequences == list(range(1, len(sequences) + 1))
    assert len(sequences) >= 6  # CREATED, SENT and IB's word for each order
    newest = await replayed(server, order_service_pb2.StreamOrderEventsRequest(replay_last=2))
    assert [event.sequence for event in newest] == sequences[-2:]
    live = await replayed(server, order_service_pb2.StreamOrderEventsRequest())
    assert live == []


async def test_one_way_to_choose_the_replay(server: RunningServer) -> None:
    request = order_service_pb2.StreamOrderEventsRequest(after_sequence=3, replay_last=5)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await replayed(server, request)
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [violation.field for violation in error.field_violations] == ["replay_last"]
