"""WebSocket clients of the peer (bench/peer_gateway.py), in one asyncio process, for
bench/quote_fanout.py: each watches five contracts and decodes every JSON update.

    build/bench-venv/bin/python bench/peer_clients.py --url ws://127.0.0.1:8765/quotes \
        --streams 100 --symbols BENCH00,BENCH01,... --seconds 10

Prints "measuring" when the window opens, then one JSON line with what the window received
and this process's CPU time in it; the orchestrator reads the server's CPU at the same moments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from measure import Sample, percentile, stream_symbols


async def one_client(url: str, symbols: list[str], sample: Sample) -> None:
    seen: dict[int, float] = {}
    try:
        async with connect(
            f"{url}?symbols={','.join(symbols)}", compression=None, max_queue=None
        ) as websocket:
            async for message in websocket:
                update = json.loads(message)
                sample.record(seen, update["con_id"], update["exchange_time"])
    except (OSError, ConnectionClosed):
        sample.errors += 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--symbols", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warm-up", type=float, default=3.0)
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, help="simulator clock - wall clock, s"
    )
    options = parser.parse_args()
    symbols = options.symbols.split(",")
    sample = Sample(options.clock_offset)
    tasks = [
        asyncio.create_task(one_client(options.url, stream_symbols(index, symbols), sample))
        for index in range(options.streams)
    ]
    await asyncio.sleep(options.warm_up)  # let every client connect and its lines start
    sample.restart()
    print("measuring", flush=True)
    cpu_before = time.process_time()
    await asyncio.sleep(options.seconds)
    cpu = time.process_time() - cpu_before
    result = {
        "messages": sample.messages,
        "errors": sample.errors,
        "p50": percentile(sample.latencies_ms, 0.50),
        "p99": percentile(sample.latencies_ms, 0.99),
        "client_cpu": cpu,
    }
    print(json.dumps(result), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
