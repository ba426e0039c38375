"""The gateway session against the simulated gateway: whatever fails while connecting or
reconciling leads to a reconnect (never a session stuck SYNCING), and a gateway whose socket stays
open but that no longer answers is noticed and reconnected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from ibkr_grpc.broker.session import GatewaySession, SessionSettings
from ibkr_grpc.domain.broker_reports import BrokerSnapshot
from ibkr_grpc.domain.enums import ConnectionState
from ibkr_simulator import Simulator
from ibkr_simulator.config import SimulatorConfig
from tests.broker.test_session_reports import Recorder
from tests.support.market_hours import TRADING_MORNING
from tests.support.waiting import eventually


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with Simulator(
        SimulatorConfig(start_time=TRADING_MORNING, port=0, seed=3, tick_rate=0)
    ) as running:
        yield running


def settings(simulator: Simulator, *, watchdog: float = 30.0) -> SessionSettings:
    return SessionSettings(
        simulator.host,
        simulator.port,
        client_id=31,
        request_timeout=1.0,
        connect_timeout=2.0,
        reconnect_initial_delay=0.05,
        reconnect_max_delay=0.2,
        watchdog_interval=watchdog,
    )


def ready(session: GatewaySession) -> bool:
    return session.state().state is ConnectionState.READY


async def test_a_failing_reconciliation_leads_to_a_reconnect(simulator: Simulator) -> None:
    session = GatewaySession(settings(simulator), clock=lambda: datetime.now(UTC))
    attempts: list[BrokerSnapshot] = []

    async def reconcile(snapshot: BrokerSnapshot) -> None:
        attempts.append(snapshot)
        if len(attempts) == 1:
            message = "the database failed during reconciliation"
            raise RuntimeError(message)

    session.attach(Recorder(), reconcile)
    await session.start()
    try:
        await eventually(lambda: ready(session), message="the session stayed SYNCING")
        assert len(attempts) == 2
    finally:
        await session.stop()


async def test_a_gateway_that_stops_answering_is_reconnected(simulator: Simulator) -> None:
    session = GatewaySession(settings(simulator, watchdog=0.3), clock=lambda: datetime.now(UTC))

    async def reconcile(_snapshot: BrokerSnapshot) -> None:
        return None

    session.attach(Recorder(), reconcile)
    await session.start()
    try:
        await eventually(lambda: ready(session))
        simulator.delay_responses(600)  # the socket stays open; nothing is answered
        await eventually(lambda: not ready(session), message="a silent gateway went unnoticed")
        assert "did not answer" in session.state().last_error
        simulator.delay_responses(0)
        await eventually(lambda: ready(session), within=15)
    finally:
        await session.stop()
