"""What every benchmark in bench/ measures with, in the standard library only: the peer's
processes (which run in their own venv, without the project) import it as well."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

CONTRACTS_PER_STREAM = 5
# The benchmark's own venv (make bench-venv): the FastAPI peer, its clients, py-spy.
BENCH_VENV = Path(__file__).resolve().parent.parent / "build" / "bench-venv"
# A fixed Tuesday morning in regular hours, so that a run at night measures the same.
SIMULATED_START = "2026-03-03T10:00:00-05:00"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def synthetic_contracts(count: int, folder: Path, *, volatility: float = 0.3) -> Path:
    """A contract file for the simulator: `count` stocks BENCH00, BENCH01, ... beyond the
    bundled universe, priced from 50 up."""
    contracts = [
        {
            "con_id": 900_000 + index,
            "symbol": bench_symbol(index),
            "sec_type": "STK",
            "exchange": "SMART",
            "primary_exchange": "NYSE",
            "currency": "USD",
            "local_symbol": bench_symbol(index),
            "trading_class": bench_symbol(index),
            "long_name": f"BENCHMARK STOCK {index}",
            "min_tick": 0.01,
            "initial_price": 50.0 + index,
            "annual_volatility": volatility,
        }
        for index in range(count)
    ]
    path = folder / "bench-contracts.json"
    path.write_text(json.dumps({"contracts": contracts}), encoding="utf-8")
    return path


def bench_symbol(index: int) -> str:
    return f"BENCH{index:02d}"


def stream_symbols(stream: int, symbols: list[str]) -> list[str]:
    """The contracts client number `stream` watches: five consecutive ones, wrapping around."""
    return [
        symbols[(stream * CONTRACTS_PER_STREAM + offset) % len(symbols)]
        for offset in range(CONTRACTS_PER_STREAM)
    ]


@dataclass
class Sample:
    """Messages received in a window, and the latency of every one that carried a new trade
    (per client and contract: the same trade repeated in a later quote is not counted again).
    Trade times are the simulator's, `clock_offset` seconds ahead of the wall clock."""

    clock_offset: float = 0.0
    messages: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def record(self, seen: dict[int, float], con_id: int, trade_time: float | None) -> None:
        self.messages += 1
        if trade_time is not None and seen.get(con_id) != trade_time:
            seen[con_id] = trade_time
            self.latencies_ms.append((time.time() + self.clock_offset - trade_time) * 1000)

    def restart(self) -> None:
        self.messages, self.latencies_ms = 0, []


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    """The machine's 1-minute load average, to print beside results measured under it."""
    return f"{os.getloadavg()[0]:.2f}"


@contextlib.asynccontextmanager
async def process(
    *command: str,
    environment: dict[str, str] | None = None,
    log: Path | None = None,
    stdout_pipe: bool = False,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process for the block's duration: terminated (then killed) when it ends."""
    output = log.open("wb") if log is not None else None
    child = await asyncio.create_subprocess_exec(
        *command,
        env=environment,
        stdout=asyncio.subprocess.PIPE if stdout_pipe else output or asyncio.subprocess.DEVNULL,
        stderr=output or asyncio.subprocess.DEVNULL,
    )
    try:
        yield child
    finally:
        if child.returncode is None:
            child.terminate()
            try:
                async with asyncio.timeout(15):
                    await child.wait()
            except TimeoutError:
                child.kill()
                await child.wait()
        if output is not None:
            output.close()


async def simulator_clock_offset(control_port: int) -> float:
    """How far the simulator's clock (started at SIMULATED_START) is ahead of the wall clock,
    in seconds: its `time` answer against the middle of the fastest of a few round trips."""
    reader, writer = await asyncio.open_connection("127.0.0.1", control_port)
    best: tuple[float, float] = (float("inf"), 0.0)
    try:
        for _ in range(20):
            sent = time.time()
            writer.write(b"time\n")
            await writer.drain()
            answer = (await reader.readline()).decode()
            received = time.time()
            stamp = answer.split("time=", 1)[1].split()[0]
            offset = datetime.fromisoformat(stamp).timestamp() - (sent + received) / 2
            best = min(best, (received - sent, offset))
    finally:
        writer.close()
        await writer.wait_closed()
    return best[1]


@contextlib.asynccontextmanager
async def profiled(pid: int, output: Path | None) -> AsyncIterator[None]:
    """py-spy (from the benchmark's venv) sampling process `pid` for the block, its stacks
    written to `output` in the collapsed (flame graph) text format; nothing when None."""
    if output is None:
        yield
        return
    command = [
        str(BENCH_VENV / "bin" / "py-spy"),
        "record",
        "--format=raw",
        "--rate=200",
        "--nonblocking",
    ]
    command += [f"--pid={pid}", f"--output={output}"]
    recorder = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then exits
        async with asyncio.timeout(30):
            await recorder.wait()


async def wait_for_port(port: int, *, within: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:`port`."""
    async with asyncio.timeout(within):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return
