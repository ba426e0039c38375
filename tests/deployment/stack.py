"""The deployment files as data: compose.yaml, the server's Dockerfile, .env.example and the
monitoring configuration, read once per test from the repository."""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
# The Compose Specification's JSON schema, carried by the repository (provenance and licence in
# schemas/NOTICE): the tests read nothing outside it.
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
DOCKERFILE = ROOT / "server" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
MONITORING = ROOT / "monitoring"
PROMETHEUS = MONITORING / "prometheus"
ALERTMANAGER = MONITORING / "alertmanager"
GRAFANA = MONITORING / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ escapes a dollar.
_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")

Service = dict[str, Any]


@cache
def compose() -> dict[str, Any]:
    return cast("dict[str, Any]", yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")))


def services() -> dict[str, Service]:
    return cast("dict[str, Service]", compose()["services"])


def references() -> dict[str, list[str]]:
    """Every ${VAR} in compose.yaml, with the defaults it is given (empty list for none)."""
    found: dict[str, list[str]] = {}
    for match in _REFERENCE.finditer(COMPOSE_FILE.read_text(encoding="utf-8")):
        defaults = found.setdefault(match.group(1), [])
        if match.group(2) in {":-", "-"}:
            defaults.append(match.group(3))
    return found


def interpolate(value: str) -> str:
    """`value` as compose would see it with an empty .env: defaults applied."""
    return _REFERENCE.sub(
        lambda match: match.group(3) if match.group(2) in {":-", "-"} else "", value
    )


def environment(service: Service) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(name): str(value) for name, value in raw.items()}


def uses_server_image(service: Service) -> bool:
    """Runs an image built from server/Dockerfile (the server's, or its backup stage's)."""
    return str(service.get("image", "")).startswith(("ibkr-grpc:", "ibkr-grpc-backup:"))


def command_line(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def healthcheck_command(service: Service) -> list[str]:
    """The healthcheck's command without its CMD / CMD-SHELL marker."""
    test = service.get("healthcheck", {}).get("test", [])
    parts = command_line(test)
    return parts[1:] if parts and parts[0] in {"CMD", "CMD-SHELL"} else parts


def published_ports(service: Service) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of every published port."""
    result = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        host = parts[0] if len(parts) == 3 else ""
        result.append((host, int(parts[-2]), int(parts[-1].split("/")[0])))
    return result


def bind_mounts(service: Service) -> list[tuple[Path, str]]:
    """(host path, container path) of every bind mount of a relative or absolute host path."""
    mounts = []
    for entry in service.get("volumes", []):
        source, target = str(entry).split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(
                ((ROOT / source).resolve() if source.startswith(".") else Path(source), target)
            )
    return mounts


def named_volumes(service: Service) -> list[str]:
    return [
        str(entry).split(":")[0]
        for entry in service.get("volumes", [])
        if not str(entry).startswith((".", "/"))
    ]


def port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


@cache
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of server/Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_healthcheck() -> list[str]:
    arguments = next(
        args for keyword, args in dockerfile_instructions() if keyword == "HEALTHCHECK"
    )
    command = arguments.split("CMD", 1)[1].strip()
    parsed = json.loads(command)
    return [str(part) for part in parsed]


def dockerfile_environment() -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


@cache
def env_example() -> dict[str, str]:
    """Variables .env.example documents: set (NAME=value) or shown commented (# NAME=value)."""
    documented = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            documented[match.group(1)] = match.group(2)
    return documented


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROMETHEUS / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def recording_rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROMETHEUS / "recording_rules.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def envoy_stats_address() -> tuple[str, int]:
    """Where compose has Envoy serve /stats/prometheus: the renderer's --stats-listen."""
    command = command_line(services()["envoy-config"]["command"])
    host, _, port = command[command.index("--stats-listen") + 1].rpartition(":")
    return host, int(port)


def render_envoy_config(
    folder: Path,
    *,
    as_in_compose: bool = False,
    listen_port: int | None = None,
    stats_port: int | None = None,
    admin_socket: Path | None = None,
) -> Path:
    """Run the envoy-config service's command (the project's renderer) into `folder`.

    With `as_in_compose`, only the output file changes. Otherwise the container paths are
    replaced by the host paths the envoy service mounts there, so that a local Envoy can run
    the result, listening on 127.0.0.1:`listen_port` (stats on `stats_port`), its admin
    socket at `admin_socket`.
    """
    from ibkr_grpc.edge.envoy_config import main  # noqa: PLC0415  the renderer under test

    arguments = command_line(services()["envoy-config"]["command"])
    options = dict(zip(arguments[::2], arguments[1::2], strict=True))
    output = folder / "envoy.yaml"
    options["--output"] = str(output)
    if not as_in_compose:
        mounted = {target: source for source, target in bind_mounts(services()["envoy"])}
        for option in ("--descriptor", "--static-dir"):
            assert options[option] in mounted, f"envoy does not mount {options[option]}"
            options[option] = str(mounted[options[option]])
        options["--listen"] = f"127.0.0.1:{listen_port}"
        options["--admin-socket"] = str(admin_socket)
        options["--stats-listen"] = f"127.0.0.1:{stats_port}"
    assert main([part for pair in options.items() for part in pair]) == 0
    return output
