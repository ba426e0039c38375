"""The long fault run (issue #14): ten faults of each kind (PostgreSQL and Redis restarted, the
gateway dropping connections and restarting, the server killed with SIGKILL and stopped with
SIGTERM) mid-burst, then the client's, the server's and IB's ledgers compared.

    .venv/bin/python bench/faults.py [--count 10] [--seed 14] [--workers 3] [--logs DIR]

The same run as tests/server/test_faults.py (tests/support/fault_run.py), with more faults. It
starts a PostgreSQL and a Redis of its own on free ports (PostgreSQL's server binaries and
redis-server must be installed), the simulator and `ibkr-grpc serve` as processes. Prints the
ledgers' figures and, per fault, how long clients saw it and which codes; exits 1 if anything
was lost, duplicated, missing, out of sequence or answered INTERNAL or UNKNOWN.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

# The run lives with the tests; this script runs as `python bench/faults.py`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fault_run import format_report, run_faults


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10, help="faults of each kind")
    parser.add_argument("--seed", type=int, default=14, help="draws the faults' order")
    parser.add_argument("--workers", type=int, default=3, help="traders placing orders")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in DIR")
    options = parser.parse_args()
    # SIGTERM stops the run as Ctrl-C does: every process it started is stopped on the way out.
    running = asyncio.current_task()
    assert running is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, running.cancel)
    report = await run_faults(
        count=options.count, seed=options.seed, workers=options.workers, logs=options.logs
    )
    print(format_report(report))
    return 1 if report.comparison.problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
