"""A real Prometheus scraping a real server, with the stack's recording rules and alerts: the
stock go-grpc-prometheus queries return the calls made, the recording rules produce the
original specification's api_requests_total and api_request_duration_seconds, and every rule
evaluates without error on real series.

The stock queries are go-grpc-prometheus's own "Useful query examples" (README.md of
grpc-ecosystem/go-grpc-prometheus), with its `job="foo"` as our `job="server"` and its
windows shortened to fit a test that scrapes every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import urllib.error
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import grpc.aio
import pytest
import yaml

from ibkr.v1 import order_service_pb2
from tests.deployment.conftest import fetch_soon, free_port
from tests.deployment.stack import PROMETHEUS
from tests.server.conftest import RunningServer
from tests.server.test_order_lifecycle import collecting
from tests.server.test_orders import limit_buy
from tests.support.waiting import eventually

INSTALL_PROMETHEUS = (
    "prometheus is missing: install it with `apt-get install -y --no-install-recommends "
    "prometheus` (Debian/Ubuntu; `make setup` does), or put Prometheus 2.x on PATH"
)
ORDERS = "ibkr.v1.OrderService"

# go-grpc-prometheus README, "Useful query examples", by their headings there.
STOCK_QUERIES = {
    "request inbound rate": 'sum(rate(grpc_server_started_total{job="server"}[1m])) by (grpc_service)',
    "unary request error rate": (
        'sum(rate(grpc_server_handled_total{job="server",grpc_type="unary",grpc_code!="OK"}[1m]))'
        " by (grpc_service)"
    ),
    "unary request error percentage": (
        'sum(rate(grpc_server_handled_total{job="server",grpc_type="unary",grpc_code!="OK"}[1m]))'
        " by (grpc_service) / "
        'sum(rate(grpc_server_started_total{job="server",grpc_type="unary"}[1m]))'
        " by (grpc_service) * 100.0"
    ),
    "average response stream size": (
        'sum(rate(grpc_server_msg_sent_total{job="server",grpc_type="server_stream"}[1m]))'
        " by (grpc_service) / "
        'sum(rate(grpc_server_started_total{job="server",grpc_type="server_stream"}[1m]))'
        " by (grpc_service)"
    ),
    "99%-tile latency of unary requests": (
        "histogram_quantile(0.99, "
        'sum(rate(grpc_server_handling_seconds_bucket{job="server",grpc_type="unary"}[1m]))'
        " by (grpc_service,le))"
    ),
    "percentage of slow unary queries (>250ms)": (
        "100.0 - ("
        'sum(rate(grpc_server_handling_seconds_bucket{job="server",grpc_type="unary",le="0.25"}[1m]))'
        " by (grpc_service) / "
        'sum(rate(grpc_server_handling_seconds_count{job="server",grpc_type="unary"}[1m]))'
        " by (grpc_service)) * 100.0"
    ),
}


class PrometheusServer:
    def __init__(self, url: str) -> None:
        self.url = url

    async def get(self, path: str, **parameters: str) -> Any:
        query = f"?{urllib.parse.urlencode(parameters)}" if parameters else ""
        body = json.loads(await fetch_soon(f"{self.url}{path}{query}"))
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, expression: str) -> dict[str, float]:
        """Instant vector: each series's label set (as text) and value."""
        data = await self.get("/api/v1/query", query=expression)
        return {
            json.dumps(sample["metric"], sort_keys=True): float(sample["value"][1])
            for sample in data["result"]
        }


@pytest.fixture
async def prometheus(live_server: RunningServer, tmp_path: Path) -> AsyncIterator[PrometheusServer]:
    executable = shutil.which("prometheus")
    if executable is None:
        pytest.fail(INSTALL_PROMETHEUS)
    metrics_port = live_server.application.metrics_endpoint.port
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(PROMETHEUS / "recording_rules.yml"), str(PROMETHEUS / "alerts.yml")],
        "scrape_configs": [
            {
                "job_name": "server",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            }
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            executable,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
            stdout=output,
            stderr=output,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"Prometheus exited: {log.read_text(encoding='utf-8')}")
            with contextlib.suppress(urllib.error.URLError, OSError):
                await fetch_soon(f"{url}/-/ready")
                return True
            return False

        await eventually(ready, within=30, message="Prometheus never became ready")
        server = PrometheusServer(url)

        async def scraped() -> bool:
            return list((await server.query('up{job="server"}')).values()) == [1.0]

        await eventually(scraped, within=15, message="Prometheus never scraped the server")
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


def values_by(result: dict[str, float], label: str) -> dict[str, float]:
    return {json.loads(labels).get(label, ""): value for labels, value in result.items()}


async def make_calls(server: RunningServer, prometheus: PrometheusServer) -> None:
    """OK, NotFound and InvalidArgument unary calls, and an order-event stream that sends;
    twice, with a scrape between: a series' first sample is where rate() starts counting."""
    await call_once(server)
    first = 'grpc_server_handled_total{grpc_method="GetOrder",grpc_code="NotFound"}'

    async def scraped() -> bool:
        return bool(await prometheus.query(first))

    await eventually(scraped, within=10, message="Prometheus never scraped the first calls")
    await call_once(server)


async def call_once(server: RunningServer) -> None:
    async with collecting(server):
        await server.client.orders.PlaceOrder(limit_buy("70.00", key=f"stock-{uuid4()}"))
        for _ in range(3):
            with contextlib.suppress(grpc.aio.AioRpcError):
                await server.client.orders.GetOrder(
                    order_service_pb2.GetOrderRequest(order_id=str(uuid4()))
                )
        with contextlib.suppress(grpc.aio.AioRpcError):
            await server.client.orders.PlaceOrder(order_service_pb2.PlaceOrderRequest())


async def test_stock_go_grpc_prometheus_queries_work_on_our_metrics(
    live_server: RunningServer, prometheus: PrometheusServer
) -> None:
    await make_calls(live_server, prometheus)

    async def every_query_answers() -> bool:
        for heading, query in STOCK_QUERIES.items():
            answer = values_by(await prometheus.query(query), "grpc_service").get(ORDERS)
            if answer is None or not math.isfinite(answer):
                return False
            # Every call was faster than 250 ms: no slow share; every other figure counts.
            if (answer == 0) != (heading == "percentage of slow unary queries (>250ms)"):
                return False
        return True

    await eventually(every_query_answers, within=20, message="a stock query found no calls")
    errors = await prometheus.query(
        'sum(increase(grpc_server_handled_total{job="server",grpc_type="unary",'
        'grpc_code=~"NotFound|InvalidArgument"}[1m])) by (grpc_code)'
    )
    assert set(values_by(errors, "grpc_code")) == {"NotFound", "InvalidArgument"}


async def test_recording_rules_give_the_specification_s_api_metrics(
    live_server: RunningServer, prometheus: PrometheusServer
) -> None:
    await make_calls(live_server, prometheus)

    async def recorded() -> bool:
        requests = values_by(
            await prometheus.query('api_requests_total{grpc_method="GetOrder"}'), "grpc_code"
        )
        quantile = await prometheus.query(
            'grpc_method:api_request_duration_seconds:p99_rate5m{grpc_method="GetOrder"}'
        )
        rates = await prometheus.query(
            'grpc_method_grpc_code:api_requests:rate5m{grpc_method="GetOrder",grpc_code="NotFound"}'
        )
        return (
            requests.get("NotFound", 0) >= 3
            and any(math.isfinite(value) and value > 0 for value in quantile.values())
            and any(value > 0 for value in rates.values())
        )

    await eventually(recorded, within=20, message="the recorded API series never appeared")
    # Unary calls only: no stream in the request-duration histogram.
    streams = await prometheus.query('api_request_duration_seconds_count{grpc_method=~"Stream.*"}')
    assert streams == {}


async def test_every_rule_evaluates_without_error(
    live_server: RunningServer, prometheus: PrometheusServer
) -> None:
    await make_calls(live_server, prometheus)
    names = {
        rule.get("record") or rule.get("alert")
        for path in ("recording_rules.yml", "alerts.yml")
        for group in yaml.safe_load((PROMETHEUS / path).read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    }

    async def all_evaluated() -> bool:
        groups = (await prometheus.get("/api/v1/rules"))["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        # Prometheus reports Go's zero time for a rule it has not evaluated yet.
        evaluated = {
            rule["name"] for rule in rules if not rule["lastEvaluation"].startswith("0001-")
        }
        return evaluated >= names

    await eventually(all_evaluated, within=20, message="not every rule was evaluated")
    groups = (await prometheus.get("/api/v1/rules"))["groups"]
    unhealthy = {
        rule["name"]: rule.get("lastError", "")
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok"
    }
    assert unhealthy == {}
