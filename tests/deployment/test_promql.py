"""The small PromQL reader the dashboard and alert checks rely on."""

from __future__ import annotations

import pytest

from tests.deployment.promql import exposed_names, metric_names


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("up", {"up"}),
        ('ib_connection_status{job="server"} == 0', {"ib_connection_status"}),
        (
            (
                "histogram_quantile(0.99, sum by (job, le) "
                '(rate(order_latency_seconds_bucket{job="server"}[5m]))) > 1'
            ),
            {"order_latency_seconds_bucket"},
        ),
        (
            (
                "sum without (reason) (increase(order_rejections_total[10m])) / "
                "(sum without (order_type, side) (rate(orders_total[$__rate_interval])) or 0 * x)"
            ),
            {"order_rejections_total", "orders_total", "x"},
        ),
        ("delta(pnl_daily_total[15m]) < -5000 and pnl_daily_total < 0", {"pnl_daily_total"}),
        ("a unless a offset 5m", {"a"}),
        ('count(ALERTS{alertstate="firing"}) or vector(0)', {"ALERTS"}),
        (
            'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} * 1e3',
            {"node_filesystem_avail_bytes"},
        ),
        ("1073741824", set()),
    ],
)
def test_metric_names(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names


def test_exposed_names_follow_the_metric_types() -> None:
    exposition = """\
# HELP orders_total Orders placed.
# TYPE orders_total counter
# HELP order_latency_seconds PlaceOrder latency.
# TYPE order_latency_seconds histogram
# TYPE database_up gauge
database_up 1.0
# TYPE envoy_cluster_upstream_rq_xx counter
envoy_cluster_upstream_rq_xx{envoy_response_code_class="2"} 3
"""
    assert exposed_names(exposition) == {
        "orders_total",
        "order_latency_seconds_bucket",
        "order_latency_seconds_sum",
        "order_latency_seconds_count",
        "database_up",
        "envoy_cluster_upstream_rq_xx",
        "envoy_cluster_upstream_rq_xx_total",
    }
