"""Archival in the running server (ORDER_ARCHIVE_AFTER_DAYS), seen over gRPC: the scheduled run
moves an old filled order at start, ListOrders no longer lists it, GetOrder says it was archived,
and a StreamOrderEvents resume from before its events is refused while one after them is whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import grpc
import grpc.aio
import pytest

from ibkr.v1 import order_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.domain.enums import OrderEventType, OrderStatus
from ibkr_grpc.services.ports import EventDraft, IdempotencyRecord
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.order_store import OrderStore
from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer, running_server
from tests.support.builders import make_order
from tests.support.waiting import eventually


async def stored(store: OrderStore, status: OrderStatus, changed: datetime) -> str:
    """An order of an earlier run, created and last changed at `changed` (two events)."""
    order = replace(make_order(), create_time=changed, update_time=changed)
    key = IdempotencyRecord(order.client_order_id, "fingerprint", order.order_id)
    await store.create_orders([order], idempotency=key, event_time=changed)
    final = replace(order, status=status, update_time=changed)
    await store.record([EventDraft(OrderEventType.STATUS_CHANGED, final, changed)])
    return order.order_id


async def listed(server: RunningServer) -> set[str]:
    response = await server.client.orders.ListOrders(
        order_service_pb2.ListOrdersRequest(page_size=100)
    )
    return {order.order_id for order in response.orders}


async def replay(server: RunningServer, after_sequence: int) -> list[int]:
    """The sequences a resume replays before REPLAY_COMPLETE."""
    call = server.client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(after_sequence=after_sequence)
    )
    sequences: list[int] = []
    try:
        async for response in call:
            if response.HasField("marker"):
                return sequences
            if response.HasField("order_event"):
                sequences.append(response.order_event.sequence)
    finally:
        call.cancel()
    raise AssertionError


async def test_the_scheduled_archival_and_what_clients_see(
    simulator: Simulator, database: Database
) -> None:
    store = OrderStore(database)
    long_ago = datetime.now(UTC) - timedelta(days=100)
    old = await stored(store, OrderStatus.FILLED, long_ago)  # sequences 1-2
    working = await stored(store, OrderStatus.SUBMITTED, long_ago)  # sequences 3-4

    async with running_server(simulator, database, order_archive_after_days=90) as server:
        await eventually(lambda: _archived(server, old))
        assert working in await listed(server)

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await server.client.orders.GetOrder(order_service_pb2.GetOrderRequest(order_id=old))
        error = ApiError.from_rpc_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND")
        assert "archived" in error.message
        assert error.metadata["archive_time"]

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await replay(server, 1)
        error = ApiError.from_rpc_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "EVENTS_ARCHIVED")
        assert [violation.field for violation in error.field_violations] == ["after_sequence"]
        assert error.metadata["archived_through_sequence"] == "2"
        assert error.metadata["oldest_retained_sequence"] == "3"
        assert (await replay(server, 2))[:2] == [3, 4]


async def _archived(server: RunningServer, order_id: str) -> bool:
    return order_id not in await listed(server)
