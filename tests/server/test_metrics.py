"""The /metrics endpoint of a running server moves with orders, streams and the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request

import grpc.aio
from prometheus_client.parser import text_string_to_metric_families

from ibkr.v1 import order_service_pb2
from tests.server.conftest import RunningServer
from tests.server.test_order_lifecycle import collecting
from tests.server.test_orders import limit_buy
from tests.support.waiting import eventually


async def scrape(server: RunningServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    url = f"http://127.0.0.1:{server.application.metrics_endpoint.port}/metrics"

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(fetch)
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_orders_streams_and_the_gateway(server: RunningServer) -> None:
    before = await scrape(server)
    assert value(before, "ib_connection_status") == 1
    assert value(before, "market_data_line_limit") == 100
    async with collecting(server):
        await server.client.orders.PlaceOrder(limit_buy("70.00", key="metered"))
        during = await scrape(server)
        assert value(during, "grpc_server_active_streams", grpc_method="StreamOrderEvents") == 1
    after = await scrape(server)
    assert (
        value(after, "orders_total", order_type="LIMIT", side="BUY")
        == value(before, "orders_total", order_type="LIMIT", side="BUY") + 1
    )
    placed = value(
        after,
        "grpc_server_handled_total",
        grpc_type="unary",
        grpc_service="ibkr.v1.OrderService",
        grpc_method="PlaceOrder",
        grpc_code="OK",
    )
    assert placed >= 1
    assert value(after, "order_latency_seconds_count") >= 1
    assert value(after, "database_up") == 1
    assert value(after, "ib_requests_total", kind="place_order") >= 1

    with contextlib.suppress(grpc.aio.AioRpcError):
        await server.client.orders.PlaceOrder(order_service_pb2.PlaceOrderRequest())
    refused = await scrape(server)
    assert value(refused, "order_rejections_total", reason="VALIDATION_ERROR") == 1
    # go-grpc-prometheus's spelling of INVALID_ARGUMENT (grpc-go codes.Code.String()).
    invalid = value(
        refused,
        "grpc_server_handled_total",
        grpc_type="unary",
        grpc_service="ibkr.v1.OrderService",
        grpc_method="PlaceOrder",
        grpc_code="InvalidArgument",
    )
    assert invalid == 1


async def test_the_connection_status_drops_and_reconnects_count(server: RunningServer) -> None:
    before = await scrape(server)
    await server.simulator.drop_connections()

    async def reconnected() -> bool:
        samples = await scrape(server)
        return value(samples, "ib_reconnects_total") == value(before, "ib_reconnects_total") + 1

    await eventually(reconnected, within=15, message="no reconnect counted")
    after = await scrape(server)
    assert value(after, "ib_connection_status") == 1
    assert value(after, "ib_reconciliation_seconds_count") >= 2


async def test_connect_attempts_count_handshakes_that_fail_and_succeed(
    server: RunningServer,
) -> None:
    """While the gateway accepts no API connection (restarting here; waiting at its login
    dialog or a 2FA prompt in production) every attempt fails; the next one connects."""
    before = await scrape(server)
    await server.simulator.refuse_connections(2.0)

    def attempts(
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], result: str
    ) -> float:
        return value(samples, "ib_connect_attempts_total", result=result) - value(
            before, "ib_connect_attempts_total", result=result
        )

    async def failed_then_connected() -> bool:
        samples = await scrape(server)
        return attempts(samples, "failed") >= 1 and attempts(samples, "connected") == 1

    await eventually(failed_then_connected, within=20, message="no failed and no new handshake")

    # The handshake counts at once; the status is 1 once the session has synced (READY).
    async def ready_again() -> bool:
        return value(await scrape(server), "ib_connection_status") == 1

    await eventually(ready_again, within=20, message="not READY after the new handshake")
