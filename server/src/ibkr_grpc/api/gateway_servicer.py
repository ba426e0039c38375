"""ibkr.v1.GatewayService: the IB Gateway session's state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import grpc.aio

from ibkr.v1 import common_pb2, gateway_service_pb2, gateway_service_pb2_grpc
from ibkr_grpc.api import requests
from ibkr_grpc.api.conversions import timestamp
from ibkr_grpc.api.stream_messages import heartbeat_message
from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState, TradingMode
from ibkr_grpc.domain.errors import ViolationCollector
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.gateway_monitor import GatewayMonitor

Context = grpc.aio.ServicerContext[Any, Any]

CONNECTION_STATES = {
    state: gateway_service_pb2.ConnectionState.Value(f"CONNECTION_STATE_{state.value}")
    for state in ConnectionState
}
TRADING_MODES = {
    TradingMode.PAPER: common_pb2.TRADING_MODE_PAPER,
    TradingMode.LIVE: common_pb2.TRADING_MODE_LIVE,
}


class GatewayServicer(gateway_service_pb2_grpc.GatewayServiceServicer):
    def __init__(
        self,
        monitor: GatewayMonitor,
        *,
        trading_mode: TradingMode,
        market_data_line_limit: int,
        lines_in_use: Callable[[], int] = lambda: 0,
    ) -> None:
        self._monitor = monitor
        self._trading_mode = trading_mode
        self._line_limit = market_data_line_limit
        self._lines_in_use = lines_in_use

    def _message(self, state: GatewayState) -> gateway_service_pb2.GatewayStatus:
        in_use = self._lines_in_use()
        return gateway_service_pb2.GatewayStatus(
            state=CONNECTION_STATES[state.state],
            trading_mode=TRADING_MODES[self._trading_mode],
            host=state.host,
            port=state.port,
            client_id=state.client_id,
            server_version=state.server_version,
            managed_accounts=list(state.managed_accounts),
            state_change_time=timestamp(state.state_change_time),
            ready_since=timestamp(state.ready_since),
            reconnect_attempts=state.reconnect_attempts,
            last_error=state.last_error,
            last_error_code=state.last_error_code,
            market_data_lines_in_use=int(in_use),
            market_data_line_limit=self._line_limit,
            trading_blocked_reason=state.trading_blocked_reason,
        )

    async def GetGatewayStatus(
        self, request: gateway_service_pb2.GetGatewayStatusRequest, context: Context
    ) -> gateway_service_pb2.GetGatewayStatusResponse:
        return gateway_service_pb2.GetGatewayStatusResponse(
            status=self._message(self._monitor.current())
        )

    def StreamGatewayStatus(
        self, request: gateway_service_pb2.StreamGatewayStatusRequest, context: Context
    ) -> AsyncIterator[gateway_service_pb2.StreamGatewayStatusResponse]:
        # Validates now and returns the stream: a bad request fails before anything is sent.
        violations = ViolationCollector()
        heartbeat = requests.read_heartbeat_interval(
            violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
        )
        violations.raise_if_any()
        return self._states(heartbeat)

    async def _states(
        self, heartbeat: timedelta
    ) -> AsyncIterator[gateway_service_pb2.StreamGatewayStatusResponse]:
        async with aclosing(self._monitor.states(heartbeat)) as items:
            async for item in items:
                if isinstance(item, Heartbeat):
                    yield gateway_service_pb2.StreamGatewayStatusResponse(
                        heartbeat=heartbeat_message(item)
                    )
                else:
                    yield gateway_service_pb2.StreamGatewayStatusResponse(
                        status=self._message(item)
                    )
