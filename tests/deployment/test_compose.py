"""compose.yaml and server/Dockerfile against the Compose Specification and against the code:
settings, ports, health probes, volumes and the Envoy configuration they hand each other.

There is no Docker engine here, so nothing is started; everything compose would pass to a
process is checked against what that process accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import SecretStr

from ibkr_grpc.cli import SUBCOMMANDS
from ibkr_grpc.settings import Settings
from tests.deployment.stack import (
    ALERTMANAGER,
    COMPOSE_SCHEMA,
    ROOT,
    bind_mounts,
    command_line,
    compose,
    dockerfile_environment,
    dockerfile_healthcheck,
    dockerfile_instructions,
    env_example,
    environment,
    healthcheck_command,
    interpolate,
    load_yaml,
    named_volumes,
    port_of,
    published_ports,
    references,
    render_envoy_config,
    services,
    uses_server_image,
)

SETTINGS = {name.upper(): name for name in Settings.model_fields}
# Services that run the server's Settings (`serve`, `db`); the others take command-line options.
SETTINGS_READERS = ("server", "migrate")
# Compose defaults that differ from Settings' on purpose, and why.
CONTAINER_DEFAULTS = {
    "IB_HOST": "the gateway is the ib-gateway service, not this container",
    "IB_PORT": "socat's paper relay inside the gateway container is 4004",
}
ONE_SHOT = {"migrate", "envoy-config"}


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose())
    ]
    assert errors == []


@pytest.mark.parametrize("name", SETTINGS_READERS)
def test_settings_readers_set_only_real_settings(name: str) -> None:
    unknown = set(environment(services()[name])) - set(SETTINGS)
    assert unknown == set(), f"not fields of ibkr_grpc.settings.Settings: {sorted(unknown)}"


def test_every_setting_and_compose_variable_is_in_env_example() -> None:
    documented = set(env_example())
    assert set(SETTINGS) - documented == set(), "settings missing from .env.example"
    assert set(references()) - documented == set(), "compose variables missing from .env.example"


def test_compose_defaults_agree_with_env_example() -> None:
    documented = env_example()
    for name, defaults in references().items():
        for default in defaults:
            assert documented[name] == default, f"{name}: compose says {default!r}"


def _setting_value(name: str, raw: str) -> object:
    # A valid secret keeps the authentication validator out of a comparison of one field.
    values: dict[str, object] = {"jwt_secret": "x" * 32, name: raw}
    value = getattr(Settings.model_validate(values), name)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_server_defaults_agree_with_settings() -> None:
    server = environment(services()["server"])
    for variable, raw in server.items():
        # Only a pass-through of the same variable with a default: ${NAME:-default}.
        passed = re.fullmatch(rf"\$\{{{variable}:-(.+)\}}", raw)
        if variable in CONTAINER_DEFAULTS or passed is None:
            continue
        name = SETTINGS[variable]
        default = passed.group(1)
        field_default = Settings.model_fields[name].default
        if isinstance(field_default, SecretStr):
            field_default = field_default.get_secret_value()
        assert _setting_value(name, default) == field_default, f"{variable}={default!r}"


def test_server_listens_on_the_container_network_and_publishes_on_localhost() -> None:
    server = services()["server"]
    settings = environment(server)
    published = {container: host for host, _, container in published_ports(server)}
    for variable in ("GRPC_LISTEN", "METRICS_LISTEN"):
        host, _, port = settings[variable].rpartition(":")
        assert host == "0.0.0.0", f"{variable}: other containers must reach it"  # noqa: S104
        assert int(port) in published, f"{variable}'s port {port} is not published"
        assert settings[variable] == dockerfile_environment()[variable], "Dockerfile disagrees"
    exposed = next(args for keyword, args in dockerfile_instructions() if keyword == "EXPOSE")
    assert {int(port) for port in exposed.split()} == set(published)


def test_published_ports_are_bound_to_localhost() -> None:
    for name, service in services().items():
        for host, _, _ in published_ports(service):
            assert host == "127.0.0.1", f"{name} publishes a port on every interface"


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(compose()["volumes"])
    used = {volume for service in services().values() for volume in named_volumes(service)}
    assert used - declared == set(), "volumes used but not declared"
    assert declared - used == set(), "volumes declared but never used"


def test_bind_mount_sources_exist() -> None:
    for name, service in services().items():
        for source, _ in bind_mounts(service):
            if source == Path("/"):  # node-exporter reads the host's root filesystem
                continue
            hint = " (run `make webapp`)" if source == ROOT / "webapp" / "dist" else ""
            if source.is_relative_to(ROOT / "node_modules"):
                hint = " (run `make setup`)"
            assert source.exists(), f"{name} mounts {source}, which does not exist{hint}"


def _has_healthcheck(service: dict[str, Any]) -> bool:
    own = service.get("healthcheck")
    if own is not None:
        return not own.get("disable", False)
    return uses_server_image(service) and any(
        keyword == "HEALTHCHECK" for keyword, _ in dockerfile_instructions()
    )


def test_dependencies_wait_for_what_their_services_provide() -> None:
    all_services = services()
    for name, service in all_services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in all_services, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert _has_healthcheck(all_services[target]), f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert all_services[target].get("restart") == "no", f"{target} is no one-shot"
            if "profiles" in all_services[target] and not set(
                all_services[target]["profiles"]
            ) >= set(service.get("profiles", [])):
                assert rule.get("required") is False, f"{name} needs {target}'s profile"


def _subcommand(parts: list[str]) -> str:
    assert parts[0] == "ibkr-grpc", f"expected an ibkr-grpc command, not {parts}"
    return parts[1]


def test_health_probes_are_cli_subcommands() -> None:
    probes = [dockerfile_healthcheck()]
    for service in services().values():
        command = healthcheck_command(service)
        if command and uses_server_image(service):
            probes.append(command)
    for probe in probes:
        assert _subcommand(probe) in SUBCOMMANDS, (
            f"`{' '.join(probe)}` is not a subcommand of ibkr-grpc ({sorted(SUBCOMMANDS)})"
        )


def test_server_image_services_run_real_subcommands() -> None:
    entrypoint = next(
        args for keyword, args in dockerfile_instructions() if keyword == "ENTRYPOINT"
    )
    assert json.loads(entrypoint) == ["ibkr-grpc"]
    for name, service in services().items():
        if uses_server_image(service) and "entrypoint" not in service:
            command = command_line(service.get("command")) or ["serve"]
            assert command[0] in SUBCOMMANDS, f"{name} runs unknown subcommand {command[0]}"


def test_builds_name_a_stage_of_the_dockerfile() -> None:
    stages = {
        args.split()[-1]
        for keyword, args in dockerfile_instructions()
        if keyword == "FROM" and " AS " in args.upper()
    }
    last = [args for keyword, args in dockerfile_instructions() if keyword == "FROM"][-1]
    assert last.split()[-1] == "server", "a build without --target makes the server's image"
    for name, service in services().items():
        build = service.get("build")
        if isinstance(build, dict) and build.get("dockerfile") == "server/Dockerfile":
            assert build.get("target") in stages, f"{name} builds no stage of server/Dockerfile"


def test_dockerfile_healthcheck_probes_the_grpc_port() -> None:
    probe = dockerfile_healthcheck()
    target = probe[probe.index("--target") + 1]
    assert port_of(target) == port_of(dockerfile_environment()["GRPC_LISTEN"])


def test_dockerfile_is_multi_stage_pinned_and_unprivileged() -> None:
    instructions = dockerfile_instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2, "a build stage and a runtime stage"
    base = next(args for keyword, args in instructions if keyword == "ARG")
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.[0-9]+-slim-[a-z]+", base), base
    user = [args for keyword, args in instructions if keyword == "USER"]
    assert user, "the runtime stage must not run as root"
    assert user[-1].split(":")[0] not in {"root", "0"}
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]
    assert any("--constraint constraints.txt" in args for args in installs)


def test_images_are_pinned() -> None:
    for name, service in services().items():
        image = interpolate(str(service.get("image", "")))
        if uses_server_image(service):
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: no tag on {image}"
        if name == "ib-gateway":
            # IBKR retires old gateway versions; the channel (or a version) is set in .env.
            assert tag in {"stable", "latest"} or re.match(r"[0-9]+\.[0-9]+", tag)
            continue
        assert re.fullmatch(r"v?[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z]+)?", tag), f"{name}: {image}"


def test_long_running_services_restart_within_limits() -> None:
    for name, service in services().items():
        assert "logging" in service, f"{name}: rotate its logs"
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        limits = service["deploy"]["resources"]["limits"]
        assert {"cpus", "memory"} <= set(limits), f"{name}: set CPU and memory limits"


def test_the_simulator_and_the_probe_stand_where_the_server_looks() -> None:
    all_services = services()
    server = {key: interpolate(value) for key, value in environment(all_services["server"]).items()}
    simulator = all_services["simulator"]
    command = [interpolate(part) for part in command_line(simulator["command"])]
    assert command[0] == "sim"
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104
    assert command[command.index("--port") + 1] == server["IB_PORT"]
    assert server["IB_HOST"] in simulator["networks"]["backend"]["aliases"]
    assert server["IB_HOST"] == "ib-gateway"

    probe = [interpolate(part) for part in healthcheck_command(all_services["ib-gateway-health"])]
    assert probe[probe.index("--host") + 1] == server["IB_HOST"]
    assert probe[probe.index("--port") + 1] == server["IB_PORT"]
    assert probe[probe.index("--client-id") + 1] != server["IB_CLIENT_ID"]


def test_envoy_config_renders_for_the_compose_network(tmp_path: Path) -> None:
    envoy = services()["envoy"]
    config_file = render_envoy_config(tmp_path, as_in_compose=True)
    rendered = load_yaml(config_file)
    cluster = rendered["static_resources"]["clusters"][0]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    address = endpoint["address"]["socket_address"]
    grpc_port = port_of(environment(services()["server"])["GRPC_LISTEN"])
    assert (address["address"], address["port_value"]) == ("server", grpc_port)
    listener = rendered["static_resources"]["listeners"][0]["address"]["socket_address"]
    published = {container for _, _, container in published_ports(envoy)}
    assert listener["port_value"] in published


def test_envoy_serves_the_api_reference_from_its_mounts() -> None:
    """envoy-config's --docs-root names where Envoy finds envoy/openapi.json, envoy/docs and
    Swagger UI (ibkr_grpc.edge.envoy_config's layout); compose mounts exactly those there."""
    command = command_line(services()["envoy-config"].get("command"))
    docs_root = command[command.index("--docs-root") + 1]
    mounts = {
        target: ROOT / source.removeprefix("./")
        for source, target in _volume_targets(services()["envoy"])
        if source.startswith("./")
    }
    for inside in ("envoy", "node_modules/swagger-ui-dist"):
        assert mounts.get(f"{docs_root}/{inside}") == ROOT / inside, f"{inside} not at {docs_root}"
    assert (ROOT / "envoy" / "openapi.json").exists()


def test_envoy_reads_the_config_that_envoy_config_writes() -> None:
    all_services = services()
    writer = all_services["envoy-config"]
    arguments = command_line(writer["command"])
    output = Path(arguments[arguments.index("--output") + 1])
    written = {target: volume for volume, target in _volume_targets(writer)}
    read = {target: volume for volume, target in _volume_targets(all_services["envoy"])}
    envoy_command = command_line(all_services["envoy"]["command"])
    config_path = Path(envoy_command[envoy_command.index("--config-path") + 1])
    assert written[str(output.parent)] == read[str(config_path.parent)]
    assert output.name == config_path.name


def _volume_targets(service: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (entry.split(":")[0], entry.split(":")[1]) for entry in map(str, service.get("volumes", []))
    ]


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secrets() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "start from nothing and let in only what the image needs"
    let_in = {pattern.removeprefix("!").rstrip("/") for pattern in patterns if pattern[0] == "!"}
    copied = [
        args.split()[0]
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY" and not args.startswith("--from")
    ]
    assert copied, "the Dockerfile copies nothing from the context"
    for source in copied:
        assert source.rstrip("/") in let_in, f".dockerignore keeps out {source}"
        assert (ROOT / source).exists()
    assert "**/.env" in patterns


def test_alertmanager_reads_the_repository_s_configuration() -> None:
    alertmanager = services()["alertmanager"]
    arguments = command_line(alertmanager["command"])
    option = next(argument for argument in arguments if argument.startswith("--config.file="))
    config_path = Path(option.partition("=")[2])
    mounted = {target: source for source, target in bind_mounts(alertmanager)}
    assert mounted[str(config_path.parent)] == ALERTMANAGER
    assert (ALERTMANAGER / config_path.name).exists()
    # Receivers outside the machine (Slack, PagerDuty, mail) need the network with a way out.
    assert "edge" in alertmanager["networks"]
