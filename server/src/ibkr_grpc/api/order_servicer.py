"""ibkr.v1.OrderService: requests in, domain calls, responses out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import grpc.aio

from ibkr.v1 import order_service_pb2, order_service_pb2_grpc
from ibkr_grpc.api import requests
from ibkr_grpc.api.access import current_caller
from ibkr_grpc.api.conversions import fill_message, order_event_message, order_message
from ibkr_grpc.api.stream_messages import heartbeat_message, marker_message
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.errors import PermissionDeniedError, ViolationCollector
from ibkr_grpc.domain.orders import OrderEvent, OrderPreview
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.order_event_feed import OrderEventFeed
from ibkr_grpc.services.order_manager import OrderManager
from ibkr_grpc.services.ports import OrderRepository

Context = grpc.aio.ServicerContext[Any, Any]


def preview_message(preview: OrderPreview) -> order_service_pb2.OrderPreview:
    return order_service_pb2.OrderPreview(
        notional=write_decimal(preview.notional),
        currency=preview.currency,
        initial_margin_change=write_decimal(preview.initial_margin_change),
        maintenance_margin_change=write_decimal(preview.maintenance_margin_change),
        equity_with_loan_after=write_decimal(preview.equity_with_loan_after),
        commission_minimum=write_decimal(preview.commission_minimum),
        commission_maximum=write_decimal(preview.commission_maximum),
        warnings=list(preview.warnings),
    )


class OrderServicer(order_service_pb2_grpc.OrderServiceServicer):
    def __init__(
        self, manager: OrderManager, repository: OrderRepository, feed: OrderEventFeed
    ) -> None:
        self._manager = manager
        self._repository = repository
        self._feed = feed

    async def PlaceOrder(
        self, request: order_service_pb2.PlaceOrderRequest, context: Context
    ) -> order_service_pb2.PlaceOrderResponse:
        intent = requests.read_place_order(request)
        result = await self._manager.place(intent, current_caller())
        response = order_service_pb2.PlaceOrderResponse(
            order=order_message(result.order),
            bracket_orders=[order_message(order) for order in result.bracket_orders],
        )
        if result.preview is not None:
            response.preview.CopyFrom(preview_message(result.preview))
        return response

    async def GetOrder(
        self, request: order_service_pb2.GetOrderRequest, context: Context
    ) -> order_service_pb2.GetOrderResponse:
        order = await self._repository.get(request.order_id)
        caller = current_caller()
        if not caller.may_use_account(order.account):
            message = f"{caller.subject} may not see orders of account {order.account}"
            raise PermissionDeniedError(message, metadata={"order_id": order.order_id})
        return order_service_pb2.GetOrderResponse(order=order_message(order))

    async def ListOrders(
        self, request: order_service_pb2.ListOrdersRequest, context: Context
    ) -> order_service_pb2.ListOrdersResponse:
        filters, page_size, token = requests.read_list_orders(request)
        page = await self._repository.list_orders(filters, page_size, token)
        return order_service_pb2.ListOrdersResponse(
            orders=[order_message(order) for order in page.orders],
            next_page_token=page.next_page_token,
        )

    async def ModifyOrder(
        self, request: order_service_pb2.ModifyOrderRequest, context: Context
    ) -> order_service_pb2.ModifyOrderResponse:
        order = await self._manager.modify(requests.read_modify_order(request), current_caller())
        return order_service_pb2.ModifyOrderResponse(order=order_message(order))

    async def CancelOrder(
        self, request: order_service_pb2.CancelOrderRequest, context: Context
    ) -> order_service_pb2.CancelOrderResponse:
        order = await self._manager.cancel(request.order_id, current_caller())
        return order_service_pb2.CancelOrderResponse(order=order_message(order))

    async def CancelAllOrders(
        self, request: order_service_pb2.CancelAllOrdersRequest, context: Context
    ) -> order_service_pb2.CancelAllOrdersResponse:
        orders = await self._manager.cancel_all(request.account)
        return order_service_pb2.CancelAllOrdersResponse(
            orders=[order_message(order) for order in orders]
        )

    async def ListFills(
        self, request: order_service_pb2.ListFillsRequest, context: Context
    ) -> order_service_pb2.ListFillsResponse:
        filters, page_size, token = requests.read_list_fills(request)
        page = await self._repository.list_fills(filters, page_size, token)
        return order_service_pb2.ListFillsResponse(
            fills=[fill_message(fill) for fill in page.fills], next_page_token=page.next_page_token
        )

    def StreamOrderEvents(
        self, request: order_service_pb2.StreamOrderEventsRequest, context: Context
    ) -> AsyncIterator[order_service_pb2.StreamOrderEventsResponse]:
        # Validates now and returns the stream: a bad request fails before anything is sent.
        # The request rules have checked the fields and that one way to start is given.
        violations = ViolationCollector()
        heartbeat = requests.read_heartbeat_interval(
            violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
        )
        violations.raise_if_any()
        return self._order_events(request, heartbeat)

    async def _order_events(
        self, request: order_service_pb2.StreamOrderEventsRequest, heartbeat: timedelta
    ) -> AsyncIterator[order_service_pb2.StreamOrderEventsResponse]:
        events = self._feed.follow(
            after_sequence=request.after_sequence,
            account=request.account,
            heartbeat=heartbeat,
            replay_from_start=request.replay_from_start,
            replay_last=request.replay_last,
        )
        async with aclosing(events) as items:
            async for item in items:
                if isinstance(item, OrderEvent):
                    yield order_service_pb2.StreamOrderEventsResponse(
                        order_event=order_event_message(item)
                    )
                elif isinstance(item, Heartbeat):
                    yield order_service_pb2.StreamOrderEventsResponse(
                        heartbeat=heartbeat_message(item)
                    )
                else:
                    yield order_service_pb2.StreamOrderEventsResponse(marker=marker_message(item))
