"""A real server (grpc.aio on a free port) in front of the simulated gateway over TCP, on a
real database, reached through the generated stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ibkr.v1 import gateway_service_pb2
from ibkr_client import IbkrClient
from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.app import Application
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.settings import Settings
from ibkr_grpc.store.database import Database
from ibkr_simulator import Simulator
from ibkr_simulator.config import SimulatorConfig
from tests.support.databases import BACKENDS, migrated_database
from tests.support.market_hours import TRADING_MORNING
from tests.support.waiting import eventually

ACCOUNT = "DU1234567"
JWT_SECRET = "test-secret-" + "x" * 40


def mint(
    role: Role,
    subject: str = "tester",
    accounts: frozenset[str] = frozenset(),
    *,
    lifetime: timedelta = timedelta(hours=1),
    secret: str = JWT_SECRET,
) -> str:
    issuer = TokenIssuer(secret, "HS256", "ibkr-grpc", "ibkr-grpc")
    return mint_token(
        issuer,
        subject=subject,
        role=role,
        accounts=accounts,
        lifetime=lifetime,
        now=datetime.now(UTC),
    )


@dataclass
class RunningServer:
    application: Application
    client: IbkrClient
    simulator: Simulator
    database: Database

    def client_as(
        self, role: Role, subject: str = "tester", accounts: frozenset[str] = frozenset()
    ) -> IbkrClient:
        """A new client with a token for `role`; close it (async with) when done."""
        return IbkrClient.connect(
            f"127.0.0.1:{self.application.port}", token=mint(role, subject, accounts)
        )

    async def wait_until_ready(self) -> None:
        async def ready() -> bool:
            response = await self.client.gateway.GetGatewayStatus(
                gateway_service_pb2.GetGatewayStatusRequest()
            )
            return response.status.state == gateway_service_pb2.CONNECTION_STATE_READY

        await eventually(ready, within=15, message="the gateway session never became READY")


def simulator_config(**changes: Any) -> SimulatorConfig:
    """The server tests' simulated gateway: a trading morning, prices that move only on step(),
    one paper account, account updates five times a second."""
    config = SimulatorConfig(
        start_time=TRADING_MORNING,
        port=0,
        seed=7,
        tick_rate=0,
        accounts=(ACCOUNT,),
        account_update_interval=0.2,
    )
    return replace(config, **changes)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with Simulator(simulator_config()) as running:
        yield running


def server_settings(simulator: Simulator, database_url: str) -> Settings:
    return Settings(
        ib_host=simulator.host,
        ib_port=simulator.port,
        ib_client_id=11,
        database_url=SecretStr(database_url),
        grpc_listen="127.0.0.1:0",
        metrics_listen="127.0.0.1:0",
        ib_request_timeout_seconds=5,
        ib_connect_timeout_seconds=5,
        ib_reconnect_initial_delay_seconds=0.1,
        ib_reconnect_max_delay_seconds=0.5,
        order_acknowledgement_timeout_seconds=3,
        quote_linger_seconds=0.2,
        jwt_secret=SecretStr(JWT_SECRET),
    )


@asynccontextmanager
async def running_server(
    simulator: Simulator, database: Database, **overrides: object
) -> AsyncIterator[RunningServer]:
    """Start the application on `database`, wait until READY, stop it afterwards."""
    settings = server_settings(simulator, database.url).model_copy(update=overrides)
    application = Application(settings, database=database)
    await application.start()
    client = IbkrClient.connect(
        f"127.0.0.1:{application.port}", token=mint(Role.ADMIN, "test-admin")
    )
    server = RunningServer(application, client, simulator, database)
    try:
        await server.wait_until_ready()
        yield server
    finally:
        await client.close()
        await application.stop(grace=1)


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path) as migrated:
        yield migrated


@pytest.fixture
async def server(simulator: Simulator, database: Database) -> AsyncIterator[RunningServer]:
    async with running_server(simulator, database) as running:
        yield running
