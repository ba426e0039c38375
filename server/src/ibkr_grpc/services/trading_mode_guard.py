"""Refuses order commands while the accounts IB Gateway reports do not match TRADING_MODE, so
that a paper setting never trades a live login (and a confirmed live setting never quietly
runs on paper). Cancels are never refused: getting out must always work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog

from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.domain.errors import TradingModeMismatchError
from ibkr_grpc.domain.trading_mode import trading_mode_mismatch

_log = structlog.get_logger("ibkr_grpc.trading_mode")

StateListener = Callable[[GatewayState], None]


class TradingModeGuard:
    """Fed by the session's state listener; hands the state on to its own listeners with
    `trading_blocked_reason` filled in, so every reader sees the reason with the accounts."""

    def __init__(self, mode: TradingMode) -> None:
        self._mode = mode
        self._reason = ""
        self._listeners: list[StateListener] = []

    def add_state_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def gateway_state_changed(self, state: GatewayState) -> None:
        # The accounts of the last login stay in the state while disconnected: the reason
        # stays too, until a login with other accounts clears it.
        reason = trading_mode_mismatch(self._mode, state.managed_accounts)
        if reason != self._reason:
            if reason:
                _log.error(
                    "order commands refused: trading mode mismatch",
                    trading_mode=self._mode.value,
                    managed_accounts=list(state.managed_accounts),
                    reason=reason,
                )
            else:
                _log.info(
                    "trading mode matches the gateway's accounts again",
                    trading_mode=self._mode.value,
                    managed_accounts=list(state.managed_accounts),
                )
            self._reason = reason
        annotated = replace(state, trading_blocked_reason=reason)
        for listener in self._listeners:
            listener(annotated)

    def blocked_reason(self) -> str:
        return self._reason

    def ensure_trading_allowed(self, account: str = "") -> None:
        """Raise TradingModeMismatchError while the mode and the accounts disagree; for new and
        modified orders only (any account: the login as a whole is wrong)."""
        del account
        if self._reason:
            raise TradingModeMismatchError(self._reason)
