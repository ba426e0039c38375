"""Grafana's dashboards and provisioning, and the PromQL of dashboards, alerts and recording
rules against what a real server (and a real Envoy) export: a panel or an alert on a metric
nobody exports would stay empty, or silent, forever. Series the recording rules make count as
exported once the rules themselves query only exported series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.promql import metric_names
from tests.deployment.stack import (
    DASHBOARDS,
    GRAFANA,
    PROMETHEUS,
    bind_mounts,
    load_yaml,
    recording_rules,
    services,
)

# Series Prometheus makes itself: scrape health and alert state.
PROMETHEUS_OWN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"})
# node-exporter's names (https://github.com/prometheus/node_exporter), scraped as job "node":
# the only disk and host-memory figures in the stack. No node-exporter runs in the tests.
NODE_EXPORTER = frozenset(
    {
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
    }
)
# What Prometheus records (monitoring/prometheus/recording_rules.yml).
RECORDED = frozenset(rule["record"] for rule in recording_rules())
# Envoy's names are allowed only on the Envoy dashboard, and checked against a live Envoy.
ENVOY_DASHBOARD = "edge.json"
HOST_DASHBOARD = "system-health.json"


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return [panel for panel in found if panel["type"] != "row"]


def expressions(path: Path) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in a dashboard."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def alert_expressions() -> list[tuple[str, str]]:
    groups = load_yaml(PROMETHEUS / "alerts.yml")["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


def unknown_names(queries: list[tuple[str, str]], exported: set[str]) -> dict[str, set[str]]:
    unknown: dict[str, set[str]] = {}
    for title, expression in queries:
        missing = metric_names(expression) - exported
        if missing:
            unknown[title] = missing
    return unknown


def test_the_dashboards_exist() -> None:
    names = {path.name for path in DASHBOARDS}
    expected = {"api-performance.json", "trading-activity.json", "ib-gateway.json"}
    assert expected | {HOST_DASHBOARD, ENVOY_DASHBOARD} <= names


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_is_well_formed(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    datasource = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    uid = datasource["datasources"][0]["uid"]
    assert dashboard["uid"].startswith("ibkr-grpc-")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        assert panel["description"], f"{panel['title']}: say what the panel shows"
        assert panel["datasource"]["uid"] == uid, f"{panel['title']}: unknown datasource"
        queried = [metric_names(target["expr"]) for target in panel["targets"]]
        assert any(queried), f"{panel['title']}: queries no metric"


def test_dashboard_uids_are_unique() -> None:
    uids = [json.loads(path.read_text(encoding="utf-8"))["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids))


def test_provisioning_loads_the_dashboards_compose_mounts() -> None:
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "ibkr-grpc.yml")
    path = provider["providers"][0]["options"]["path"]
    mounted = {target: source for source, target in bind_mounts(services()["grafana"])}
    assert mounted[path] == GRAFANA / "dashboards"
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA / "dashboards" / Path(home).name).exists()
    assert Path(home).parent == Path(path)


async def test_server_dashboards_query_only_what_the_server_exports(
    server_metric_names: set[str],
) -> None:
    unknown: dict[str, set[str]] = {}
    for path in DASHBOARDS:
        if path.name == ENVOY_DASHBOARD:
            continue
        allowed = server_metric_names | PROMETHEUS_OWN | RECORDED
        if path.name == HOST_DASHBOARD:
            allowed |= NODE_EXPORTER
        unknown |= {
            f"{path.name}: {title}": names
            for title, names in unknown_names(expressions(path), allowed).items()
        }
    assert unknown == {}


async def test_alerts_query_only_what_is_exported(server_metric_names: set[str]) -> None:
    allowed = server_metric_names | PROMETHEUS_OWN | NODE_EXPORTER | RECORDED
    assert unknown_names(alert_expressions(), allowed) == {}


async def test_recording_rules_query_only_what_the_server_exports(
    server_metric_names: set[str],
) -> None:
    """Each rule reads the server's series, or what a rule before it recorded."""
    unknown: dict[str, set[str]] = {}
    recorded: set[str] = set()
    for rule in recording_rules():
        missing = metric_names(rule["expr"]) - server_metric_names - recorded
        if missing:
            unknown[rule["record"]] = missing
        recorded.add(rule["record"])
    assert unknown == {}


async def test_envoy_dashboard_queries_only_what_envoy_exports(
    envoy_metric_names: set[str],
) -> None:
    path = next(path for path in DASHBOARDS if path.name == ENVOY_DASHBOARD)
    allowed = envoy_metric_names | PROMETHEUS_OWN
    assert unknown_names(expressions(path), allowed) == {}
