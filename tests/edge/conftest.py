"""Envoy in front of a real server (grpc.aio on a free port, the simulated gateway, SQLite),
and Envoy alone (its upstream a closed port) for what Envoy must answer by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from tests.edge.envoy_process import RunningEnvoy, closed_port, edge_config, running_envoy
from tests.server import conftest as server_fixtures
from tests.server.conftest import RunningServer, mint, running_server
from tests.support.databases import migrated_database

# The server tests' simulated gateway, reused as is.
simulator = server_fixtures.simulator

ALLOWED_ORIGIN = "http://ui.example:3000"
OTHER_ORIGIN = "http://elsewhere.example"
INDEX_HTML = b"<!doctype html><title>ibkr-grpc</title><script src=/assets/app.js></script>\n"
APP_JS = b"console.log('ibkr-grpc');\n"


@dataclass(frozen=True)
class Edge:
    envoy: RunningEnvoy
    server: RunningServer
    token: str

    @property
    def base_url(self) -> str:
        return self.envoy.base_url

    @property
    def authorization(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    """A stand-in for the UI's build (webapp/dist), so these tests do not need it built."""
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_bytes(INDEX_HTML)
    (folder / "assets" / "app.js").write_bytes(APP_JS)
    return folder


@pytest.fixture
async def edge(simulator: Simulator, tmp_path: Path, static_dir: Path) -> AsyncIterator[Edge]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        config = edge_config(
            server.application.port,
            tmp_path,
            static_dir=static_dir,
            allowed_origins=(ALLOWED_ORIGIN,),
        )
        async with running_envoy(config, tmp_path) as envoy:
            yield Edge(envoy, server, mint(Role.ADMIN, "edge-tester"))


@pytest.fixture
async def envoy_alone(tmp_path: Path, static_dir: Path) -> AsyncIterator[RunningEnvoy]:
    config = edge_config(
        closed_port(), tmp_path, static_dir=static_dir, allowed_origins=(ALLOWED_ORIGIN,)
    )
    async with running_envoy(config, tmp_path) as envoy:
        yield envoy
