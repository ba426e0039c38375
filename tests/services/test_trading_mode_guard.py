"""TradingModeGuard: refuses new and modified orders while the gateway's accounts do not match
TRADING_MODE, and hands each state on with the reason filled in."""

from __future__ import annotations

import pytest

from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState, TradingMode
from ibkr_grpc.domain.errors import ErrorKind, TradingModeMismatchError
from ibkr_grpc.services.trading_mode_guard import TradingModeGuard


def state(connection: ConnectionState, *accounts: str) -> GatewayState:
    return GatewayState(connection, "127.0.0.1", 4002, 1, managed_accounts=accounts)


class Recorder:
    def __init__(self) -> None:
        self.states: list[GatewayState] = []

    def __call__(self, state: GatewayState) -> None:
        self.states.append(state)


def test_a_paper_setting_on_a_live_login_refuses_orders() -> None:
    guard = TradingModeGuard(TradingMode.PAPER)
    recorder = Recorder()
    guard.add_state_listener(recorder)
    guard.gateway_state_changed(state(ConnectionState.SYNCING, "U1234567"))
    assert "U1234567" in guard.blocked_reason()
    with pytest.raises(TradingModeMismatchError) as raised:
        guard.ensure_trading_allowed()
    assert raised.value.reason == "TRADING_MODE_MISMATCH"
    assert raised.value.kind is ErrorKind.FAILED_PRECONDITION
    assert raised.value.message == guard.blocked_reason()
    assert recorder.states[-1].trading_blocked_reason == guard.blocked_reason()
    assert recorder.states[-1].managed_accounts == ("U1234567",)


def test_the_reason_outlives_a_disconnect_and_clears_on_a_matching_login() -> None:
    guard = TradingModeGuard(TradingMode.PAPER)
    recorder = Recorder()
    guard.add_state_listener(recorder)
    guard.gateway_state_changed(state(ConnectionState.READY, "U1234567"))
    guard.gateway_state_changed(state(ConnectionState.DISCONNECTED, "U1234567"))
    assert guard.blocked_reason()
    guard.gateway_state_changed(state(ConnectionState.SYNCING, "DU1234567"))
    assert guard.blocked_reason() == ""
    guard.ensure_trading_allowed()
    assert [s.trading_blocked_reason == "" for s in recorder.states] == [False, False, True]


def test_nothing_is_refused_before_the_gateway_reports_accounts() -> None:
    guard = TradingModeGuard(TradingMode.LIVE)
    guard.gateway_state_changed(state(ConnectionState.CONNECTING))
    guard.ensure_trading_allowed()
    assert guard.blocked_reason() == ""
