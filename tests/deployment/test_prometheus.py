"""Prometheus's configuration, alert and recording rules and their unit tests, checked by
promtool, and the rules' conventions: every alert has a delay, a severity, what-to-do
annotations and tests that show it firing and staying quiet; every recording rule is tested."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ibkr.v1 import errors_pb2
from tests.deployment.stack import (
    PROMETHEUS,
    ROOT,
    alert_rules,
    environment,
    envoy_stats_address,
    load_yaml,
    port_of,
    recording_rules,
    services,
)

INSTALL_PROMTOOL = (
    "promtool is missing: install it with `apt-get install -y --no-install-recommends "
    "prometheus` (Debian/Ubuntu; `make setup` does), or put Prometheus 2.x's promtool on PATH"
)
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RULE_FILES = ["alerts.yml", "recording_rules.yml"]


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    if executable is None:
        pytest.fail(INSTALL_PROMTOOL)
    return subprocess.run(
        [executable, *map(str, arguments)],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_promtool_accepts_the_configuration() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a rule with a PromQL syntax error does not pass."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: broken\n    rules:\n"
        "      - record: api_requests_total\n        expr: sum without (grpc_type (x)\n",
        encoding="utf-8",
    )
    result = promtool("check", "rules", broken)
    assert result.returncode != 0


def test_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "monitoring/prometheus/tests holds no rule tests"
    result = promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_says_how_bad_and_what_to_do(rule: dict[str, Any]) -> None:
    assert "for" in rule, "state the delay, even 0m, so that it is a decision"
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert len(annotations["description"].split()) >= 15, "say what to do, not only what"


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown quiet"
    assert (firing | quiet) - names == set(), "tests of alerts that do not exist"


def test_the_readme_lists_every_alert() -> None:
    """alerts.yml points at the README's Alerts section for what to do: it must be there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Alerts\n", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Za-z]+)` \|", section, re.MULTILINE))
    assert listed == {rule["alert"] for rule in alert_rules()}


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))


def test_every_recorded_series_is_tested() -> None:
    """Each recording rule's output is the subject of a promql_expr_test."""
    tested = " ".join(
        check["expr"]
        for path in RULE_TESTS
        for case in load_yaml(path)["tests"]
        for check in case.get("promql_expr_test", [])
    )
    untested = {rule["record"] for rule in recording_rules() if rule["record"] not in tested}
    assert untested == set()


def test_recorded_names_follow_the_conventions() -> None:
    """level:metric:operations for aggregations; the original specification's two names
    (api_requests_total, api_request_duration_seconds) as plain metric names."""
    plain = {
        "api_requests_total",
        "api_request_duration_seconds_bucket",
        "api_request_duration_seconds_sum",
        "api_request_duration_seconds_count",
    }
    for rule in recording_rules():
        name = rule["record"]
        assert name in plain or re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name
    assert plain <= {rule["record"] for rule in recording_rules()}


def test_scrape_targets_are_compose_services_on_their_ports() -> None:
    compose_services = services()
    expected_ports = {
        "server": {port_of(environment(compose_services["server"])["METRICS_LISTEN"])},
        "envoy": {envoy_stats_address()[1]},
        "node-exporter": {9100},  # node-exporter's default; compose does not change it
        "alertmanager": {9093},  # Alertmanager's default; compose does not change it
    }
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    assert config["rule_files"] == RULE_FILES
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                if host == "localhost":
                    assert job["job_name"] == "prometheus"
                    continue
                assert host in compose_services, f"{job['job_name']}: no compose service {host}"
                assert int(port) in expected_ports[host], f"{target} is not a port {host} serves"


def test_memory_alert_matches_the_server_memory_limit() -> None:
    limit = services()["server"]["deploy"]["resources"]["limits"]["memory"]
    match = re.fullmatch(r"([0-9]+)([kmg])", limit.lower())
    assert match is not None, f"unexpected memory limit {limit!r}"
    number, unit = match.groups()
    limit_bytes = int(number) * 1024 ** {"k": 1, "m": 2, "g": 3}[unit]
    rule = next(rule for rule in alert_rules() if rule["alert"] == "HighMemoryUsage")
    assert f"0.8 * {limit_bytes}" in rule["expr"], "HighMemoryUsage must follow compose's limit"


def test_rejection_reasons_in_alerts_are_catalogue_reasons() -> None:
    reasons = errors_pb2.ErrorReason.DESCRIPTOR.values
    catalogue = {value.name.removeprefix("ERROR_REASON_") for value in reasons}
    text = (PROMETHEUS / "alerts.yml").read_text(encoding="utf-8")
    named = set(re.findall(r'reason="([A-Z_]+)"', text))
    assert named, "the alerts name no reason: this test would check nothing"
    assert named - catalogue == set(), "not reasons of ibkr.v1.ErrorReason"
