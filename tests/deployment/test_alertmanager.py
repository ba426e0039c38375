"""Alertmanager's configuration, checked by amtool, and its place in the stack: Prometheus sends
alerts to the compose service that reads this file, every alert is routed to a receiver, and
every inhibition names alerts that exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deployment.stack import (
    ALERTMANAGER,
    PROMETHEUS,
    alert_rules,
    load_yaml,
    published_ports,
    services,
)

CONFIG = ALERTMANAGER / "alertmanager.yml"
INSTALL_AMTOOL = (
    "amtool is missing: install it with `apt-get install -y --no-install-recommends "
    "prometheus-alertmanager` (Debian/Ubuntu; `make setup` does), or put Alertmanager's "
    "amtool on PATH"
)
ALERTMANAGER_PORT = 9093  # Alertmanager's default --web.listen-address; compose keeps it


def amtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("amtool")
    if executable is None:
        pytest.fail(INSTALL_AMTOOL)
    return subprocess.run(
        [executable, *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_amtool_accepts_the_configuration() -> None:
    result = amtool("check-config", CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_refuses_a_route_to_an_unknown_receiver(tmp_path: Path) -> None:
    """The check above can fail: a route to a receiver nobody defined does not pass."""
    config = load_yaml(CONFIG)
    config["route"]["routes"][0]["receiver"] = "nobody"
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = amtool("check-config", broken)
    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_reaches_a_receiver(rule: dict[str, Any]) -> None:
    labels = rule["labels"]
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"alertname={rule['alert']}",
        f"severity={labels['severity']}",
        "job=server",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    receivers = {receiver["name"] for receiver in load_yaml(CONFIG)["receivers"]}
    assert result.stdout.strip() in receivers


def test_inhibitions_name_alerts_that_exist() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    named = set()
    for inhibition in load_yaml(CONFIG)["inhibit_rules"]:
        for matcher in inhibition["source_matchers"] + inhibition["target_matchers"]:
            label, _, value = matcher.partition("=")
            assert label == "alertname", f"match alerts by name: {matcher}"
            named.add(value.strip('"'))
        # The source must be at least as specific as the target (same server).
        assert {"job", "instance"} <= set(inhibition["equal"])
    assert named, "no inhibition: this test would check nothing"
    assert named - names == set(), "inhibitions of alerts that do not exist"


def test_prometheus_sends_alerts_to_the_compose_alertmanager() -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    targets = [
        target
        for manager in config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    ]
    assert targets == [f"alertmanager:{ALERTMANAGER_PORT}"]
    alertmanager = services()["alertmanager"]
    prometheus = services()["prometheus"]
    shared = set(alertmanager["networks"]) & set(prometheus["networks"])
    assert shared, "Prometheus and Alertmanager share no network"
    assert {port for _, _, port in published_ports(alertmanager)} == {ALERTMANAGER_PORT}
