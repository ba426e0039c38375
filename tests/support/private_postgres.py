"""A PostgreSQL server of a test's own, on a free port, that the test may stop and start (fault
tests must never touch the machine's shared server). Runs PostgreSQL's own binaries as the
`postgres` user, since initdb refuses to run as root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        pytest.fail("PostgreSQL's server binaries (pg_ctl, initdb) are required")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._bin = _binaries()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *command: str) -> None:
        prefix: tuple[str, ...] = ()
        if os.geteuid() == 0:
            prefix = ("runuser", "-u", "postgres", "--")
        process = await asyncio.create_subprocess_exec(
            *prefix,
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        if process.returncode != 0:
            message = f"{command[0]} failed: {output.decode(errors='replace')}"
            raise RuntimeError(message)

    async def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        await self._run(
            str(self._bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        await self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "30",
            "-l", str(self.folder / "server.log"), "start",
        )  # fmt: skip

    async def stop_smart(self) -> None:
        """Begin a smart shutdown without waiting: the server refuses new connections (57P03)
        while connected clients remain."""
        await self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "smart", "-W", "stop"
        )

    async def stop(self) -> None:
        await self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    # Not under pytest's tmp_path: that lies below a folder only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="ibkr-grpc-postgres-"))
    server = PrivatePostgres(folder)
    try:
        await server.create()
        await server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError):  # already stopped by the test
            await server.stop()
        shutil.rmtree(folder, ignore_errors=True)
