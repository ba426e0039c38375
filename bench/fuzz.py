"""The long fuzz run (issue #14): every RPC over gRPC and HTTP/JSON through Envoy, in front of
a real server (`ibkr-grpc serve`, its own process), the simulated gateway and SQLite, with the
server's resident memory before, during and after.

    .venv/bin/python bench/fuzz.py [--cases 7000] [--seed 14] [--keep-log PATH]

The same cases as tests/fuzz (tests/fuzz/runner.py), many more of them. The server runs as its
container runs it: its own process with glibc's MALLOC_ARENA_MAX=2 (server/Dockerfile), so the
resident set measured is the server's alone (/proc/PID/status), not the fuzzing client's.

The burst runs twice, the same cases each time: the first pass fills what is meant to stay
(connection pools, statement and contract caches, grpc's per-method buffers, the stored orders
the cases create), the second shows what a burst leaves behind once that is done: a leak grows
by about as much on each pass. The answers judged are the second pass's; memory is read every
500 cases and 5 s after each pass.
Prints a table and exits 1 if any answer was a failure (INTERNAL, UNKNOWN, a 5xx, no catalogue
reason, an error after an HTTP 200, a hang).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# The fuzz and its fixtures live with the tests; this script runs as `python bench/fuzz.py`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.edge.envoy_process import edge_config, running_envoy
from tests.fuzz.messages import Method, all_methods
from tests.fuzz.runner import Tally, Target, run_cases
from tests.server.conftest import mint, simulator_config
from tests.support.fault_stack import JWT_SECRET, ServerProcess, free_port, upgrade_database

from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator

BATCH = 500
SETTLE_SECONDS = 5


def resident_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_environment(
    simulator: Simulator, folder: Path, database_url: str | None
) -> dict[str, str]:
    return os.environ | {
        "MALLOC_ARENA_MAX": "2",
        "IB_HOST": simulator.host,
        "IB_PORT": str(simulator.port),
        "IB_CLIENT_ID": "11",  # the client id the simulator reports every order to
        "GRPC_LISTEN": f"127.0.0.1:{free_port()}",
        "METRICS_LISTEN": "127.0.0.1:0",
        "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{folder / 'fuzz.sqlite3'}",
        "JWT_SECRET": JWT_SECRET,
        "LOG_LEVEL": "WARNING",
    }


def report(tally: Tally, elapsed: float, memory: list[tuple[str, float]]) -> None:
    out = sys.stdout.write
    out(f"\n{len(tally.outcomes)} cases in {elapsed:.1f} s\n\n")
    out("transport    answered  refused     open   failed\n")
    for transport in ("grpc", "grpc-bytes", "http"):
        kinds = [o.kind for o in tally.outcomes if o.transport == transport]
        counts = [kinds.count(kind) for kind in ("answered", "refused", "open", "failed")]
        out(f"{transport:<12}" + "".join(f"{count:>9}" for count in counts) + "\n")
    out("\nmost frequent answers:\n")
    for detail, count in tally.count("detail").most_common(15):
        out(f"{count:>7}  {detail}\n")
    out("\nthe server's resident memory (MB):\n")
    for label, megabytes in memory:
        out(f"  {label:<34}{megabytes:>8.1f}\n")
    for outcome in tally.failures[:30]:
        out(f"FAILED case {outcome.case} {outcome.transport} {outcome.method}: {outcome.detail}\n")


async def main(cases: int, seed: int, keep_log: Path | None, database_url: str | None) -> int:
    methods = all_methods()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder_name:
        folder = Path(folder_name)
        static_dir = folder / "dist"
        static_dir.mkdir()
        (static_dir / "index.html").write_text("<!doctype html>\n", encoding="utf-8")
        log = folder / "server.log"
        try:
            async with Simulator(simulator_config()) as simulator:
                environment = server_environment(simulator, folder, database_url)
                await upgrade_database(environment, log)
                server = ServerProcess(environment, log)
                try:  # stopped however start() ends: it raises if the server never gets READY
                    await server.start()
                    assert server.process is not None
                    tally, elapsed, memory = await fuzz(
                        methods, server, folder, static_dir, cases, seed, server.process.pid
                    )
                finally:
                    await server.stop()
        finally:
            if keep_log is not None and log.exists():
                shutil.copyfile(log, keep_log)
    report(tally, elapsed, memory)
    return 1 if tally.failures else 0


async def fuzz(
    methods: tuple[Method, ...],
    server: ServerProcess,
    folder: Path,
    static_dir: Path,
    cases: int,
    seed: int,
    pid: int,
) -> tuple[Tally, float, list[tuple[str, float]]]:
    config = edge_config(server.port, folder, static_dir=static_dir, allowed_origins=())
    async with running_envoy(config, folder) as envoy:
        admin = mint(Role.ADMIN, "fuzz-admin", lifetime=timedelta(days=1), secret=JWT_SECRET)
        target = Target(
            grpc_address=f"127.0.0.1:{server.port}",
            http_base=envoy.base_url,
            tokens=(admin,) * 6 + (None, admin[:-4] + "AAAA"),
        )
        memory = [("at start", resident_megabytes(pid))]
        for first in range(0, cases, BATCH):
            await run_cases(
                methods, target, seed=seed, cases=min(BATCH, cases - first), first_case=first
            )
            memory.append(
                (f"first pass, {min(first + BATCH, cases)} cases", resident_megabytes(pid))
            )
        await asyncio.sleep(SETTLE_SECONDS)
        memory.append((f"first pass, settled ({SETTLE_SECONDS} s later)", resident_megabytes(pid)))
        tally = Tally()
        started = time.monotonic()
        for first in range(0, cases, BATCH):
            batch = await run_cases(
                methods, target, seed=seed, cases=min(BATCH, cases - first), first_case=first
            )
            tally.outcomes.extend(batch.outcomes)
            memory.append(
                (f"second pass, {first + len(batch.outcomes)} cases", resident_megabytes(pid))
            )
        elapsed = time.monotonic() - started
        await asyncio.sleep(SETTLE_SECONDS)
        memory.append((f"second pass, settled ({SETTLE_SECONDS} s later)", resident_megabytes(pid)))
    return tally, elapsed, memory


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=7000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep-log", type=Path, default=None, help="copy the server's log here")
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: SQLite in a temp folder)"
    )
    arguments = parser.parse_args()
    sys.exit(
        asyncio.run(
            main(arguments.cases, arguments.seed, arguments.keep_log, arguments.database_url)
        )
    )
