"""The Go client (clients/go: protoc-gen-go and protoc-gen-go-grpc code, grpc-go) built offline
from Debian's Go packages and run against a real server: it authenticates with a bearer token,
places an order under a client_order_id and follows the order-event log across a stream it
drops itself, resuming with after_sequence."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ibkr_grpc.domain.identity import Role
from tests.clients.place_and_follow import (
    ACCOUNT,
    check_the_run,
    limit_buy,
    run_program,
    servers,
)
from tests.server.conftest import mint

REPOSITORY = Path(__file__).resolve().parents[2]
MODULE_PATH = "github.com/ibkr-grpc/ibkr-grpc/clients/go"
# Debian's golang-google-grpc-dev, golang-google-protobuf-dev and golang-google-genproto-dev
# (make system-tools) install their sources here, in GOPATH layout.
DEBIAN_GOPATH = Path("/usr/share/gocode")


def go_environment(gopath: Path) -> dict[str, str]:
    """GOPATH mode (GO111MODULE=off), as Debian builds its Go packages: the module's go.mod names
    the same versions, but resolving it would need the module proxy, which is not reachable."""
    return {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{gopath}{os.pathsep}{DEBIAN_GOPATH}",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
        # Compiled packages are cached across runs (build/ is git-ignored).
        "GOCACHE": str(REPOSITORY / "build" / "go-cache"),
    }


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    assert go is not None, "Go is missing: run make system-tools (Debian's golang-go)"
    assert DEBIAN_GOPATH.is_dir(), "Debian's Go sources are missing: run make system-tools"
    gopath = tmp_path_factory.mktemp("gopath")
    # A copy, not a symlink: the go command's "..." patterns do not follow symlinks.
    shutil.copytree(REPOSITORY / "clients" / "go", gopath / "src" / MODULE_PATH)
    binary = gopath / "bin" / "place_and_follow"
    environment = go_environment(gopath)
    for command in (
        [go, "vet", f"{MODULE_PATH}/..."],
        [go, "build", "-o", str(binary), f"{MODULE_PATH}/examples/place_and_follow"],
    ):
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr
    return binary


def test_the_generated_code_is_formatted() -> None:
    go_files = sorted(str(path) for path in (REPOSITORY / "clients" / "go").rglob("*.go"))
    gofmt = shutil.which("gofmt")
    assert gofmt is not None, "gofmt is missing: run make system-tools (Debian's golang-go)"
    result = subprocess.run([gofmt, "-l", *go_files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.slow
async def test_the_go_client_places_an_order_and_resumes_the_event_stream(
    program: Path, tmp_path: Path
) -> None:
    async with servers(tmp_path) as running, running.client() as trader:
        # Someone else's order first: the log the program replays does not start with its own.
        await trader.orders.PlaceOrder(limit_buy("earlier-order"))
        target = ["-target", f"127.0.0.1:{running.port}"]
        order = [
            "-account",
            ACCOUNT,
            "-symbol",
            "AAPL",
            "-quantity",
            "5",
            "-limit-price",
            "20",
            "-client-order-id",
            "go-client-1",
        ]
        token = mint(Role.TRADER, "go-client", frozenset({ACCOUNT}))
        run = await run_program([str(program), *target, "-token", token, *order])
        await check_the_run(run, "go-client-1", trader)
        refused = await run_program([str(program), *target, "-token", "not-a-token", *order])
    assert refused.code == 1
    assert refused.errors.startswith("failed: Unauthenticated AUTHENTICATION_FAILED"), (
        refused.errors
    )
