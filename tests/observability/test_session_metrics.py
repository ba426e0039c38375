"""The gateway session's metrics: connect attempts counted by whether the API handshake
completed, which is what tells a gateway stuck at its login or 2FA prompt (GatewayLoginStuck
in monitoring/prometheus/alerts.yml) from one that connects and then fails to reconcile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ibkr_grpc.domain.broker_reports import GatewayState
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_grpc.observability.followers import SessionMetrics
from ibkr_grpc.observability.metrics import Metrics

START = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def attempts(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value("ib_connect_attempts_total", {"result": result})
    assert value is not None, f"no ib_connect_attempts_total{{result={result!r}}}"
    return value


def drive(states: list[ConnectionState]) -> Metrics:
    metrics = Metrics()
    follower = SessionMetrics(metrics)
    for step, state in enumerate(states):
        follower.state_changed(
            GatewayState(
                state=state,
                host="ib-gateway",
                port=4004,
                client_id=1,
                state_change_time=START + timedelta(seconds=step),
            )
        )
    return metrics


def test_both_results_start_at_zero() -> None:
    metrics = drive([])
    assert attempts(metrics, "connected") == 0
    assert attempts(metrics, "failed") == 0


def test_handshakes_that_fail_and_one_that_completes() -> None:
    c, d, s, r = (
        ConnectionState.CONNECTING,
        ConnectionState.DISCONNECTED,
        ConnectionState.SYNCING,
        ConnectionState.READY,
    )
    metrics = drive([c, d, c, d, c, d, c, s, r])
    assert attempts(metrics, "failed") == 3
    assert attempts(metrics, "connected") == 1


def test_a_failed_reconciliation_is_not_a_failed_handshake() -> None:
    c, d, s = ConnectionState.CONNECTING, ConnectionState.DISCONNECTED, ConnectionState.SYNCING
    metrics = drive([c, s, d, c, s, d])
    assert attempts(metrics, "failed") == 0
    assert attempts(metrics, "connected") == 2
