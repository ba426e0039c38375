"""ibkr.v1.RiskService: the risk limits and the trading halts, of every account or of one.
Account scopes are applied before a call gets here (api.access narrows a scoped token's request
to its account); changing limits or halting every account also needs an unscoped token. The
requests' rules (a halt's reason, an account's length, the limits' bounds) are in
risk_service.proto, checked before any servicer runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import grpc.aio

from ibkr.v1 import risk_service_pb2 as pb
from ibkr.v1 import risk_service_pb2_grpc
from ibkr_grpc.api import requests
from ibkr_grpc.api.access import current_caller
from ibkr_grpc.api.conversions import timestamp
from ibkr_grpc.api.risk_limits import limits_message, read_limits
from ibkr_grpc.api.stream_messages import heartbeat_message
from ibkr_grpc.domain.errors import PermissionDeniedError, ViolationCollector
from ibkr_grpc.domain.identity import Caller
from ibkr_grpc.domain.risk import HaltCause, TradingState
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.risk_engine import RiskEngine
from ibkr_grpc.services.trading_control import TradingControl

Context = grpc.aio.ServicerContext[Any, Any]
CAUSES = {cause: pb.HaltCause.Value(f"HALT_CAUSE_{cause.value}") for cause in HaltCause}


def state_message(state: TradingState) -> pb.TradingState:
    return pb.TradingState(
        halted=state.halted,
        cause=CAUSES[state.cause] if state.cause else pb.HALT_CAUSE_UNSPECIFIED,
        halted_by=state.halted_by,
        reason=state.reason,
        since=timestamp(state.since),
        account=state.account,
    )


def _read_halt_request(account: str) -> str:
    """The account a halt or resume is for ("" for every account), after checking who may.
    (The rules hold the account to what the trading_state.account column takes, 32 characters.)"""
    # The access check already narrows a scoped token's request to its account and refuses
    # other accounts; this holds even if that check ever changes.
    caller = current_caller()
    if not account:
        _require_unscoped(caller, "halting or resuming every account")
    elif not caller.may_use_account(account):
        raise PermissionDeniedError(
            f"{caller.subject} may not use account {account}", metadata={"account": account}
        )
    return account


def _require_unscoped(caller: Caller, what: str) -> None:
    if caller.accounts:
        raise PermissionDeniedError(
            f"{what} needs an admin token with no account scope; "
            f"{caller.subject} is scoped to {', '.join(sorted(caller.accounts))}",
            metadata={"accounts": ",".join(sorted(caller.accounts))},
        )


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
        caller = current_caller()
        # Limits apply to every account, so an admin of some accounts may not change them.
        _require_unscoped(caller, "changing the risk limits")
        limits = read_limits(request.limits, list(request.update_mask.paths), self._risk.limits())
        updated = await self._risk.update(limits, updated_by=caller.subject)
        return pb.UpdateRiskLimitsResponse(limits=limits_message(updated))

    async def HaltTrading(
        self, request: pb.HaltTradingRequest, context: Context
    ) -> pb.HaltTradingResponse:
        account = _read_halt_request(request.account)
        cancelled = await self._trading.halt(
            HaltCause.MANUAL,
            by=current_caller().subject,
            reason=request.reason,
            cancel_working_orders=request.cancel_working_orders,
            account=account,
        )
        return pb.HaltTradingResponse(
            state=state_message(self._trading.current(account)), cancelled_order_ids=cancelled
        )

    async def ResumeTrading(
        self, request: pb.ResumeTradingRequest, context: Context
    ) -> pb.ResumeTradingResponse:
        account = _read_halt_request(request.account)
        await self._trading.resume(
            by=current_caller().subject, reason=request.reason, account=account
        )
        return pb.ResumeTradingResponse(state=state_message(self._trading.current(account)))

    async def GetTradingState(
        self, request: pb.GetTradingStateRequest, context: Context
    ) -> pb.GetTradingStateResponse:
        return pb.GetTradingStateResponse(
            state=state_message(self._trading.current(request.account))
        )

    def StreamTradingState(
        self, request: pb.StreamTradingStateRequest, context: Context
    ) -> AsyncIterator[pb.StreamTradingStateResponse]:
        # Validates now and returns the stream: a bad request fails before anything is sent.
        violations = ViolationCollector()
        heartbeat = requests.read_heartbeat_interval(
            violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
        )
        violations.raise_if_any()
        return self._states(heartbeat, request.account)

    async def _states(
        self, heartbeat: timedelta, account: str
    ) -> AsyncIterator[pb.StreamTradingStateResponse]:
        async with aclosing(self._trading.states(heartbeat, account)) as items:
            async for item in items:
                if isinstance(item, Heartbeat):
                    yield pb.StreamTradingStateResponse(heartbeat=heartbeat_message(item))
                else:
                    yield pb.StreamTradingStateResponse(state=state_message(item))
