"""The whole stack as separate processes on 127.0.0.1, for fault injection: a PostgreSQL and a
Redis of the run's own, the simulated gateway (`ibkr-grpc sim`, reporting every client's orders
to the server's client id) and `ibkr-grpc serve`, each of which can be stopped, killed or
restarted while clients keep calling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import grpc.aio

from ibkr.v1 import gateway_service_pb2
from ibkr_client import IbkrClient
from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.domain.identity import Role
from tests.support.market_hours import TRADING_MORNING_TEXT
from tests.support.private_postgres import PrivatePostgres, private_postgres
from tests.support.private_redis import PrivateRedis, private_redis
from tests.support.waiting import eventually

COMMAND = str(Path(sys.executable).parent / "ibkr-grpc")
ACCOUNT = "DU1234567"
SERVER_CLIENT_ID = 31
JWT_SECRET = "fault-run-secret-" + "x" * 40
# Clients retry within a second of a server coming back, not after gRPC's default reconnect
# backoff (which grows to two minutes).
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)
READY_LINE = re.compile(rb"ready on [\d.]+:(\d+) control [\d.]+:(\d+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def token(role: Role = Role.ADMIN) -> str:
    issuer = TokenIssuer(JWT_SECRET, "HS256", "ibkr-grpc", "ibkr-grpc")
    return mint_token(
        issuer,
        subject="fault-run",
        role=role,
        accounts=frozenset(),
        lifetime=timedelta(hours=2),
        now=datetime.now(UTC),
    )


async def stop_process(process: asyncio.subprocess.Process, *, within: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited `within` seconds later."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(within):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class SimulatorProcess:
    process: asyncio.subprocess.Process
    port: int
    control_port: int

    async def control(self, command: str) -> str:
        """One line to the control port; its one-line answer, which must start with ok."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            async with asyncio.timeout(10):
                answer = (await reader.readline()).decode().strip()
        finally:
            writer.close()
            await writer.wait_closed()
        if not answer.startswith("ok"):
            raise RuntimeError(f"simulator control {command!r}: {answer}")
        return answer


@asynccontextmanager
async def simulator_process(log: Path) -> AsyncIterator[SimulatorProcess]:
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            COMMAND, "sim", "--port", "0", "--control-port", "0",
            "--master-client-id", str(SERVER_CLIENT_ID), "--accounts", ACCOUNT,
            "--start-time", TRADING_MORNING_TEXT, "--seed", "7", "--log-level", "WARNING",
            stdout=asyncio.subprocess.PIPE, stderr=errors,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = await process.stdout.readline()
        found = READY_LINE.search(line)
        if found is None:
            raise RuntimeError(f"the simulator did not start: {line!r} (log {log})")
        yield SimulatorProcess(process, int(found[1]), int(found[2]))
    finally:
        await stop_process(process)


class ServerProcess:
    """`ibkr-grpc serve` on a fixed port, so that clients find it again after each restart."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.environment = environment
        self.log = log
        self.port = int(environment["GRPC_LISTEN"].rpartition(":")[2])
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                COMMAND, "serve", env=self.environment, stdout=output, stderr=output
            )
        self.starts += 1
        await self.wait_until_ready()

    async def wait_until_ready(self) -> None:
        async with IbkrClient.connect(
            f"127.0.0.1:{self.port}", token=token(Role.VIEWER), channel_options=CHANNEL_OPTIONS
        ) as client:

            async def ready() -> bool:
                if self.process is None or self.process.returncode is not None:
                    raise AssertionError(f"ibkr-grpc serve exited; see {self.log}")
                try:
                    response = await client.gateway.GetGatewayStatus(
                        gateway_service_pb2.GetGatewayStatusRequest(), timeout=1
                    )
                except grpc.aio.AioRpcError:
                    return False
                return response.status.state == gateway_service_pb2.CONNECTION_STATE_READY

            await eventually(ready, within=60, message=f"serve never became READY ({self.log})")

    async def kill(self) -> None:
        """SIGKILL: no shutdown at all, as when the machine or the container dies."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def terminate(self) -> int:
        """SIGTERM, the graceful stop; its exit status (it must exit on its own)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            return await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process)


@dataclass
class FaultStack:
    folder: Path
    postgres: PrivatePostgres
    redis: PrivateRedis
    simulator: SimulatorProcess
    server: ServerProcess

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def client(self, role: Role = Role.ADMIN) -> IbkrClient:
        return IbkrClient.connect(
            self.target, token=token(role), default_timeout=5, channel_options=CHANNEL_OPTIONS
        )


async def upgrade_database(environment: dict[str, str], log: Path) -> None:
    with log.open("ab") as output:
        upgrade = await asyncio.create_subprocess_exec(
            COMMAND, "db", "upgrade", env=environment, stdout=output, stderr=output
        )
        async with asyncio.timeout(60):
            if await upgrade.wait() != 0:
                raise RuntimeError(f"ibkr-grpc db upgrade failed; see {log}")


def server_environment(
    postgres: PrivatePostgres, redis: PrivateRedis, simulator: SimulatorProcess
) -> dict[str, str]:
    return os.environ | {
        "IB_PORT": str(simulator.port),
        "IB_CLIENT_ID": str(SERVER_CLIENT_ID),
        "GRPC_LISTEN": f"127.0.0.1:{free_port()}",
        "METRICS_LISTEN": "127.0.0.1:0",
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "INFO",
        "IB_REQUEST_TIMEOUT_SECONDS": "5",
        "IB_CONNECT_TIMEOUT_SECONDS": "5",
        "IB_RECONNECT_INITIAL_DELAY_SECONDS": "0.1",
        "IB_RECONNECT_MAX_DELAY_SECONDS": "1",
        "ORDER_ACKNOWLEDGEMENT_TIMEOUT_SECONDS": "3",
    }


@asynccontextmanager
async def fault_stack(keep_logs: Path | None = None) -> AsyncIterator[FaultStack]:
    """Everything started, the server READY; everything stopped on the way out, even on
    failure. Logs go to `keep_logs` (kept) or a temporary folder (removed)."""
    with contextlib.ExitStack() as cleanup:
        if keep_logs is None:
            folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="faults-")))
        else:
            folder = keep_logs
            folder.mkdir(parents=True, exist_ok=True)
        async with (
            private_postgres() as postgres,
            private_redis() as redis,
            simulator_process(folder / "simulator.log") as simulator,
        ):
            environment = server_environment(postgres, redis, simulator)
            await upgrade_database(environment, folder / "server.log")
            server = ServerProcess(environment, folder / "server.log")
            try:
                await server.start()
                yield FaultStack(folder, postgres, redis, simulator, server)
            finally:
                await server.stop()
