"""A Redis server of a test's own, on a free port, that the test may stop, restart, freeze and
thaw (fault tests must never touch the machine's shared Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.support.waiting import eventually


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is required for the Redis fault tests")
        self._binary = binary
        self.port = _free_port()
        self._process: asyncio.subprocess.Process | None = None
        self._frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            self._binary,
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await eventually(self._answers, within=10, message="redis-server did not start")

    async def _answers(self) -> bool:
        client = Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False
        finally:
            await client.aclose()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self.thaw_process(process)
        process.terminate()
        async with asyncio.timeout(10):
            await process.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing answers, as with a hung server."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)
            self._frozen = True

    def thaw(self) -> None:
        if self._process is not None:
            self.thaw_process(self._process)

    def thaw_process(self, process: asyncio.subprocess.Process) -> None:
        if self._frozen:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)
            self._frozen = False


@asynccontextmanager
async def private_redis() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
