"""ibkr.v1.RiskService: the risk limits and the trading halt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from datetime import timedelta
from typing import Any

import grpc.aio
from google.protobuf import duration_pb2

from ibkr.v1 import risk_service_pb2 as pb
from ibkr.v1 import risk_service_pb2_grpc
from ibkr_grpc.api import requests
from ibkr_grpc.api.access import current_caller
from ibkr_grpc.api.conversions import timestamp
from ibkr_grpc.api.stream_messages import heartbeat_message
from ibkr_grpc.domain.decimals import read_decimal, write_decimal
from ibkr_grpc.domain.errors import ViolationCollector
from ibkr_grpc.domain.risk import (
    COUNT_LIMITS,
    DECIMAL_LIMITS,
    SWITCHES,
    WINDOWS,
    HaltCause,
    RiskLimits,
    TradingState,
)
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.risk_engine import RiskEngine
from ibkr_grpc.services.trading_control import TradingControl

Context = grpc.aio.ServicerContext[Any, Any]
CAUSES = {cause: pb.HaltCause.Value(f"HALT_CAUSE_{cause.value}") for cause in HaltCause}
_DECIMALS = DECIMAL_LIMITS
_OPTIONAL = COUNT_LIMITS
_WINDOWS = WINDOWS
FIELDS = frozenset(pb.RiskLimits.DESCRIPTOR.fields_by_name)


def _duration(delta: timedelta) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromTimedelta(delta)
    return message


def limits_message(limits: RiskLimits) -> pb.RiskLimits:
    message = pb.RiskLimits(
        allowed_symbols=sorted(limits.allowed_symbols),
        denied_symbols=sorted(limits.denied_symbols),
        market_orders_allowed=limits.market_orders_allowed,
        outside_regular_hours_allowed=limits.outside_regular_hours_allowed,
        rejection_window=_duration(limits.rejection_window),
        disconnect_window=_duration(limits.disconnect_window),
    )
    for name in _DECIMALS:
        setattr(message, name, write_decimal(getattr(limits, name)))
    for name in _OPTIONAL:
        value = getattr(limits, name)
        if value is not None:
            setattr(message, name, value)
    return message


def read_limits(message: pb.RiskLimits, mask: list[str], current: RiskLimits) -> RiskLimits:
    """`current` with the fields named in `mask` (all when empty) taken from `message`."""
    violations = ViolationCollector()
    names = mask or sorted(FIELDS)
    for name in names:
        if name not in FIELDS:
            violations.add("update_mask", f"unknown field {name!r}")
    changes: dict[str, Any] = {}
    for name in set(names) & FIELDS:
        path = f"limits.{name}"
        if name in _DECIMALS:
            changes[name] = read_decimal(violations, path, getattr(message, name), positive=True)
        elif name in _OPTIONAL:
            value = getattr(message, name) if message.HasField(name) else None  # type: ignore[arg-type]
            if value is not None and value < 0:
                violations.add(path, "must not be negative")
            changes[name] = value
        elif name in _WINDOWS:
            window = getattr(message, name).ToTimedelta()
            if window <= timedelta(0) and message.HasField(name):  # type: ignore[arg-type]
                violations.add(path, "must be positive")
            changes[name] = window if window > timedelta(0) else getattr(current, name)
        elif name in SWITCHES:
            changes[name] = getattr(message, name) if message.HasField(name) else True  # type: ignore[arg-type]
        else:
            changes[name] = frozenset(symbol.upper() for symbol in getattr(message, name))
    violations.raise_if_any()
    return replace(current, **changes)


def state_message(state: TradingState) -> pb.TradingState:
    return pb.TradingState(
        halted=state.halted,
        cause=CAUSES[state.cause] if state.cause else pb.HALT_CAUSE_UNSPECIFIED,
        halted_by=state.halted_by,
        reason=state.reason,
        since=timestamp(state.since),
    )


def _require_reason(reason: str) -> None:
    violations = ViolationCollector()
    if not reason.strip():
        violations.add("reason", "is required: say why, for the audit log")
    violations.raise_if_any()


class RiskServicer(risk_service_pb2_grpc.RiskServiceServicer):
    def __init__(self, risk: RiskEngine, trading: TradingControl) -> None:
        self._risk = risk
        self._trading = trading

    async def GetRiskLimits(
        self, request: pb.GetRiskLimitsRequest, context: Context
    ) -> pb.GetRiskLimitsResponse:
        return pb.GetRiskLimitsResponse(limits=limits_message(self._risk.limits()))

    async def UpdateRiskLimits(
        self, request: pb.UpdateRiskLimitsRequest, context: Context
    ) -> pb.UpdateRiskLimitsResponse:
        limits = read_limits(request.limits, list(request.update_mask.paths), self._risk.limits())
        updated = await self._risk.update(limits, updated_by=current_caller().subject)
        return pb.UpdateRiskLimitsResponse(limits=limits_message(updated))

    async def HaltTrading(
        self, request: pb.HaltTradingRequest, context: Context
    ) -> pb.HaltTradingResponse:
        _require_reason(request.reason)
        cancelled = await self._trading.halt(
            HaltCause.MANUAL,
            by=current_caller().subject,
            reason=request.reason,
            cancel_working_orders=request.cancel_working_orders,
        )
        return pb.HaltTradingResponse(
            state=state_message(self._trading.current()), cancelled_order_ids=cancelled
        )

    async def ResumeTrading(
        self, request: pb.ResumeTradingRequest, context: Context
    ) -> pb.ResumeTradingResponse:
        _require_reason(request.reason)
        await self._trading.resume(by=current_caller().subject, reason=request.reason)
        return pb.ResumeTradingResponse(state=state_message(self._trading.current()))

    async def GetTradingState(
        self, request: pb.GetTradingStateRequest, context: Context
    ) -> pb.GetTradingStateResponse:
        return pb.GetTradingStateResponse(state=state_message(self._trading.current()))

    async def StreamTradingState(
        self, request: pb.StreamTradingStateRequest, context: Context
    ) -> AsyncIterator[pb.StreamTradingStateResponse]:
        violations = ViolationCollector()
        heartbeat = requests.read_heartbeat_interval(
            violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
        )
        violations.raise_if_any()
        async with aclosing(self._trading.states(heartbeat)) as items:
            async for item in items:
                if isinstance(item, Heartbeat):
                    yield pb.StreamTradingStateResponse(heartbeat=heartbeat_message(item))
                else:
                    yield pb.StreamTradingStateResponse(state=state_message(item))
