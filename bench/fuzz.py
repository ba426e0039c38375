"""The long fuzz run (issue #14): every RPC over gRPC and HTTP/JSON through Envoy, in front of
a real server, the simulated gateway and SQLite, with the server's memory before and after.

    .venv/bin/python bench/fuzz.py [--cases 7000] [--seed 14] [--trace-memory]

The same cases as tests/fuzz (tests/fuzz/runner.py), many more of them. The server runs in
this process, so the resident set measured is the server's plus the fuzzing client's; with
--trace-memory the largest Python allocations that grew are listed too. Prints a table and
exits 1 if any answer was a failure (INTERNAL, UNKNOWN, a 5xx, no catalogue reason, a hang).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

# The fuzz and its fixtures live with the tests; this script runs as `python bench/fuzz.py`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.edge.envoy_process import edge_config, running_envoy
from tests.fuzz.messages import all_methods
from tests.fuzz.runner import Tally, Target, run_cases
from tests.server.conftest import mint, running_server, simulator_config
from tests.support.databases import migrated_database

from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator

WARM_UP_CASES = 300
BATCH = 500


def resident_megabytes() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def settled_megabytes() -> float:
    gc.collect()
    await asyncio.sleep(2)  # streams cancelled at the end finish their clean-up
    gc.collect()
    return resident_megabytes()


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
    out("\nresident memory (MB):\n")
    for label, megabytes in memory:
        out(f"  {label:<34}{megabytes:>8.1f}\n")
    for outcome in tally.failures[:30]:
        out(f"FAILED case {outcome.case} {outcome.transport} {outcome.method}: {outcome.detail}\n")


async def main(cases: int, seed: int, *, trace_memory: bool) -> int:
    methods = all_methods()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder_name:
        folder = Path(folder_name)
        static_dir = folder / "dist"
        static_dir.mkdir()
        (static_dir / "index.html").write_text("<!doctype html>\n", encoding="utf-8")
        async with (
            Simulator(simulator_config()) as simulator,
            migrated_database("sqlite", folder) as database,
            running_server(simulator, database) as server,
            running_envoy(
                edge_config(
                    server.application.port, folder, static_dir=static_dir, allowed_origins=()
                ),
                folder,
            ) as envoy,
        ):
            admin = mint(Role.ADMIN, "fuzz-admin", lifetime=timedelta(days=1))
            target = Target(
                grpc_address=f"127.0.0.1:{server.application.port}",
                http_base=envoy.base_url,
                tokens=(admin,) * 6 + (None, admin[:-4] + "AAAA"),
            )
            # The warm-up fills what is meant to stay (caches, pools, the simulator's books).
            await run_cases(methods, target, seed=seed + 1, cases=WARM_UP_CASES)
            memory = [("after a warm-up", await settled_megabytes())]
            if trace_memory:
                tracemalloc.start(25)
            before = tracemalloc.take_snapshot() if trace_memory else None
            tally = Tally()
            started = time.monotonic()
            for first in range(0, cases, BATCH):
                batch = await run_cases(
                    methods, target, seed=seed, cases=min(BATCH, cases - first), first_case=first
                )
                tally.outcomes.extend(batch.outcomes)
                memory.append((f"after {first + len(batch.outcomes)} cases", resident_megabytes()))
            elapsed = time.monotonic() - started
            memory.append(("settled (gc, 2 s later)", await settled_megabytes()))
            if before is not None:
                growth = tracemalloc.take_snapshot().compare_to(before, "traceback")
                for stat in growth[:8]:
                    sys.stdout.write(
                        f"{stat}\n  " + "\n  ".join(stat.traceback.format()[-6:]) + "\n"
                    )
    report(tally, elapsed, memory)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=7000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--trace-memory", action="store_true")
    arguments = parser.parse_args()
    sys.exit(
        asyncio.run(main(arguments.cases, arguments.seed, trace_memory=arguments.trace_memory))
    )
