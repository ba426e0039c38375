"""The committed envoy/envoy.yaml is the renderer's default output, and Envoy accepts it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from google.protobuf import descriptor_pb2

from ibkr_grpc.edge import envoy_config
from ibkr_grpc.edge.envoy_config import EdgeConfig, render
from tests.edge.envoy_process import COMMITTED_DESCRIPTOR_SET, ENVOY, REPOSITORY

COMMITTED_CONFIG = REPOSITORY / "envoy" / "envoy.yaml"


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENVOY, "--mode", "validate", "--config-path", str(config), "--disable-hot-restart"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_committed_config_is_the_renderers_default_output() -> None:
    assert COMMITTED_CONFIG.read_text(encoding="utf-8") == render(), (
        "envoy/envoy.yaml is out of date: run "
        "`.venv/bin/python -m ibkr_grpc.edge.envoy_config -o envoy/envoy.yaml`"
    )


def test_envoy_accepts_the_committed_config() -> None:
    result = validate(COMMITTED_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


def test_envoy_accepts_a_rendered_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    config = EdgeConfig(
        listen_host="0.0.0.0",  # noqa: S104  # only rendered and validated, never bound
        listen_port=18080,
        upstream_host="server",
        upstream_port=15051,
        admin_socket="/run/ibkr-grpc/envoy-admin.sock",
        stats_host="0.0.0.0",  # noqa: S104  # only rendered and validated, never bound
        stats_port=19901,
        allowed_origins=("https://trader.example.com", "http://[::1]:5173"),
        static_dir=str(REPOSITORY / "webapp" / "dist") + "/",
        descriptor_path=str(COMMITTED_DESCRIPTOR_SET),
    )
    rendered = envoy_config.write(config, tmp_path / "envoy.yaml")
    text = rendered.read_text()
    assert "port_value: 18080" in text
    assert 'address: "server", port_value: 15051' in text
    assert 'pipe: {path: "/run/ibkr-grpc/envoy-admin.sock", mode: 384}' in text, "mode 0600"
    assert '{address: "0.0.0.0", port_value: 19901}' in text, "the read-only stats listener"
    assert '- exact: "https://trader.example.com"' in text
    assert f'file_path_prefix: "{REPOSITORY / "webapp" / "dist"}"' in text, "normalised"
    result = validate(rendered)
    assert result.returncode == 0, result.stdout + result.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("timeout: 0s", "timeout: forever", 1))
    assert validate(broken).returncode != 0


def test_an_api_only_config_leaves_out_the_file_server(tmp_path: Path) -> None:
    output = tmp_path / "api-only.yaml"
    assert (
        envoy_config.main(
            ["--no-static-files", "--descriptor", str(COMMITTED_DESCRIPTOR_SET), "-o", str(output)]
        )
        == 0
    )
    text = output.read_text()
    assert "file_server" not in text
    assert "name: ui" not in text
    result = validate(output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "work-in-progress" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "parameters",
    [
        {"listen_port": 0},
        {"stats_port": 70000},
        {"admin_socket": "var/a.sock", "stats_port": 0},
        {"stats_port": 9901},
        {"admin_socket": "admin.sock\n  evil: true"},
        {"upstream_host": "server\n  evil: true"},
        {"upstream_host": "server\n"},
        {"allowed_origins": ("*",)},
        {"allowed_origins": ('http://ok.example"\n- exact: "http://evil.example',)},
        {"allowed_origins": ("http://ui.example/path",)},
        {"static_dir": ""},
    ],
)
def test_renderer_refuses_parameters_that_would_break_or_widen_the_config(
    parameters: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match=r"must|allowed origin"):
        EdgeConfig(**parameters)  # type: ignore[arg-type]


def test_command_line_writes_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "envoy.yaml"
    arguments = ["--listen", "127.0.0.1:18081", "--upstream", "127.0.0.1:15052"]
    arguments += ["--admin-socket", "var/envoy-admin.sock", "--stats-listen", "127.0.0.1:19902"]
    arguments += ["--allowed-origin", "http://a.example"]
    arguments += ["--allowed-origin", "http://b.example:8443", "-o", str(output)]
    assert envoy_config.main(arguments) == 0
    expected = EdgeConfig(
        listen_port=18081,
        upstream_port=15052,
        admin_socket="var/envoy-admin.sock",
        stats_port=19902,
        allowed_origins=("http://a.example", "http://b.example:8443"),
    )
    assert output.read_text() == render(expected)

    assert envoy_config.main([]) == 0
    assert capsys.readouterr().out == render()

    with pytest.raises(SystemExit):
        envoy_config.main(["--listen", "8080"])


def test_every_service_in_the_descriptor_set_is_transcoded() -> None:
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(
        COMMITTED_DESCRIPTOR_SET.read_bytes()
    )
    services = {
        f"{file.package}.{service.name}"
        for file in descriptor_set.file
        if file.package == "ibkr.v1"
        for service in file.service
    }
    assert services == set(envoy_config.TRANSCODED_SERVICES)


def test_committed_descriptor_set_lets_the_transcoder_print_error_details() -> None:
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(
        COMMITTED_DESCRIPTOR_SET.read_bytes()
    )
    files = {file.name for file in descriptor_set.file}
    assert {
        "google/protobuf/any.proto",
        "google/rpc/status.proto",
        "google/rpc/error_details.proto",
    } <= files


def test_the_default_config_has_no_admin_interface_and_never_logs_a_token() -> None:
    rendered = yaml.safe_load(render())
    assert "admin" not in rendered, "no admin unless asked for, and never on TCP"
    listeners = rendered["static_resources"]["listeners"]
    assert [listener["name"] for listener in listeners] == ["edge"]
    manager = listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]
    for access_log in manager["access_log"]:
        logged = json.dumps(access_log["typed_config"]["log_format"]).lower()
        assert "authorization" not in logged
        assert "%req(" in logged


def test_an_admin_interface_is_a_unix_socket_of_mode_0600() -> None:
    rendered = yaml.safe_load(render(EdgeConfig(admin_socket="var/envoy-admin.sock")))
    assert rendered["admin"]["address"] == {"pipe": {"path": "var/envoy-admin.sock", "mode": 0o600}}
