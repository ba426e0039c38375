"""Envoy's admin interface: a Unix socket only Envoy's user can open, and at most a read-only
stats listener on the network; no bearer token ever reaches Envoy's log."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.conftest import ALLOWED_ORIGIN, Edge
from tests.edge.envoy_process import (
    RunningEnvoy,
    admin_request,
    closed_port,
    edge_config,
    free_port,
    running_envoy,
)
from tests.edge.web import request
from tests.support.waiting import eventually


@pytest.fixture
async def envoy_with_stats(tmp_path: Path, static_dir: Path) -> AsyncIterator[RunningEnvoy]:
    config = edge_config(
        closed_port(),
        tmp_path,
        static_dir=static_dir,
        allowed_origins=(ALLOWED_ORIGIN,),
        stats_port=free_port(),
    )
    async with running_envoy(config, tmp_path) as envoy:
        yield envoy


async def test_the_admin_socket_is_open_to_envoys_user_only(envoy_alone: RunningEnvoy) -> None:
    socket_path = envoy_alone.admin_socket
    mode = socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
    status, body = await asyncio.to_thread(admin_request, socket_path, "GET", "/listeners")
    assert status == 200
    assert body.decode().split() == [f"edge::127.0.0.1:{envoy_alone.config.listen_port}"]


async def test_the_stats_listener_serves_reads_and_nothing_else(
    envoy_with_stats: RunningEnvoy,
) -> None:
    stats_url = f"http://127.0.0.1:{envoy_with_stats.config.stats_port}"
    metrics = await request(stats_url, "GET", "/stats/prometheus")
    assert metrics.status == 200
    assert b"envoy_server_live" in metrics.body
    assert (await request(stats_url, "GET", "/ready")).status == 200
    for method, path in [
        ("POST", "/logging?level=debug"),
        ("POST", "/healthcheck/fail"),
        ("POST", "/quitquitquit"),
        ("GET", "/config_dump"),
        ("POST", "/stats/prometheus"),
        ("GET", "/stats/prometheus/../logging"),
    ]:
        response = await request(stats_url, method, path)
        assert response.status == 404, (method, path, response)
    # POST /logging without a level only lists the levels.
    status, body = await asyncio.to_thread(
        admin_request, envoy_with_stats.admin_socket, "POST", "/logging"
    )
    assert status == 200
    assert b"http: debug" not in body, "the log level never changed"
    assert (await request(stats_url, "GET", "/ready")).body.strip() == b"LIVE"


async def test_no_bearer_token_reaches_envoys_log(edge: Edge) -> None:
    for path in ("/v1/orders", "/v1/gateway/status", "/v1/orders/ord_missing"):
        await request(edge.base_url, "GET", path, headers=edge.authorization)

    async def logged() -> bool:  # Envoy flushes its access log on its own schedule
        return b"/v1/orders/ord_missing" in edge.envoy.log.read_bytes()

    await eventually(logged, within=10, message="the access log never showed the calls")
    log = edge.envoy.log.read_text(encoding="utf-8")
    assert edge.token not in log
    assert edge.token.split(".")[2] not in log, "not even the signature"
