"""The edge tests' fixtures (Envoy in front of a real server and the simulated gateway)."""

from __future__ import annotations

from tests.edge import conftest as edge_fixtures

simulator = edge_fixtures.simulator
static_dir = edge_fixtures.static_dir
edge = edge_fixtures.edge
