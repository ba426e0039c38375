"""Quote fan-out benchmark: how many quotes per second the server delivers to 1, 100 and
1,000 concurrent StreamQuotes clients, at what latency, holding how many IB lines, in how
much memory, against a bare ib_async client reading the simulator directly (the floor).

    .venv/bin/python bench/quote_fanout.py [--seconds 20] [--streams 1,100,1000]

The simulator and the server run as separate processes (as in production); the clients run
in this one. Latency is measured from the simulator's trade time (RTVolume, milliseconds) to
the client's receipt, on every quote that carries a new trade. Prints a table; asserts
nothing: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc.aio
from ib_async import IB, Stock, Ticker

from ibkr.v1 import common_pb2, gateway_service_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_client import IbkrClient
from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.domain.identity import Role

BIN = Path(sys.executable).parent
STREAMS_PER_CHANNEL = 100
CONTRACTS_PER_STREAM = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def extra_contracts(count: int, folder: Path) -> tuple[Path, list[str]]:
    """Synthetic stocks so that the universe has `count` contracts beyond the bundled ones."""
    contracts = [
        {
            "con_id": 900_000 + index,
            "symbol": f"BENCH{index:02d}",
            "sec_type": "STK",
            "exchange": "SMART",
            "primary_exchange": "NYSE",
            "currency": "USD",
            "local_symbol": f"BENCH{index:02d}",
            "trading_class": f"BENCH{index:02d}",
            "long_name": f"BENCHMARK STOCK {index}",
            "min_tick": 0.01,
            "initial_price": 50.0 + index,
            "annual_volatility": 0.3,
        }
        for index in range(count)
    ]
    path = folder / "bench-contracts.json"
    path.write_text(json.dumps({"contracts": contracts}), encoding="utf-8")
    return path, [str(contract["symbol"]) for contract in contracts]


@dataclass
class Sample:
    messages: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    last_trade: dict[int, float] = field(default_factory=dict)
    server_cpu: float = float("nan")

    def record(self, con_id: int, trade_time: float | None, received: float) -> None:
        self.messages += 1
        if trade_time is not None and self.last_trade.get(con_id) != trade_time:
            self.last_trade[con_id] = trade_time
            self.latencies_ms.append((received - trade_time) * 1000)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.asynccontextmanager
async def process(
    *command: str, environment: dict[str, str] | None = None, log: Path | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    output = log.open("wb") if log is not None else None
    child = await asyncio.create_subprocess_exec(
        *command,
        env=environment,
        stdout=output or asyncio.subprocess.DEVNULL,
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


async def floor(host: str, port: int, symbols: list[str], seconds: float) -> Sample:
    """A bare ib_async client on the simulator: the latency nothing in between adds to."""
    ib = IB()
    await ib.connectAsync(host, port, clientId=77, timeout=10)
    sample = Sample()

    def on_pending(tickers: set[Ticker]) -> None:
        received = time.time()
        for ticker in tickers:
            trade = ticker.rtTime.timestamp() if ticker.rtTime else None
            sample.record(ticker.contract.conId if ticker.contract else 0, trade, received)

    try:
        contracts = [Stock(symbol, "SMART", "USD") for symbol in symbols]
        await ib.qualifyContractsAsync(*contracts)
        for contract in contracts:
            ib.reqMktData(contract, "233", snapshot=False, regulatorySnapshot=False)
        ib.pendingTickersEvent += on_pending
        await asyncio.sleep(seconds)
    finally:
        ib.disconnect()
    return sample


async def one_stream(
    client: IbkrClient, symbols: list[str], sample: Sample, stop: asyncio.Event
) -> None:
    request = pb.StreamQuotesRequest(contracts=[common_pb2.Contract(symbol=s) for s in symbols])
    call = client.market_data.StreamQuotes(request)
    try:
        async for response in call:
            if stop.is_set():
                break
            if response.WhichOneof("payload") != "quote":
                continue
            quote = response.quote
            stamp = quote.exchange_time
            trade = stamp.seconds + stamp.nanos / 1e9 if quote.HasField("exchange_time") else None
            sample.record(quote.contract.con_id, trade, time.time())
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.CANCELLED:
            sample.errors += 1
    finally:
        call.cancel()


async def scenario(
    target: str, token: str, streams: int, symbols: list[str], seconds: float, server_pid: int
) -> tuple[Sample, int, float]:
    channels = [
        IbkrClient.connect(target, token=token)
        for _ in range(max(1, streams // STREAMS_PER_CHANNEL))
    ]
    sample = Sample()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            one_stream(
                channels[index % len(channels)],
                [
                    symbols[(index * CONTRACTS_PER_STREAM + offset) % len(symbols)]
                    for offset in range(CONTRACTS_PER_STREAM)
                ],
                sample,
                stop,
            )
        )
        for index in range(streams)
    ]
    await asyncio.sleep(3)  # let every stream open and its lines start
    sample.messages, sample.latencies_ms = 0, []
    cpu_before = cpu_seconds(server_pid)
    await asyncio.sleep(seconds)
    sample.server_cpu = cpu_seconds(server_pid) - cpu_before
    status = await channels[0].gateway.GetGatewayStatus(
        gateway_service_pb2.GetGatewayStatusRequest()
    )
    rss = resident_megabytes(server_pid)
    measured = Sample(
        sample.messages, sample.errors, list(sample.latencies_ms), server_cpu=sample.server_cpu
    )
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return measured, status.status.market_data_lines_in_use, rss


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--streams", default="1,100,1000")
    parser.add_argument("--contracts", type=int, default=50)
    parser.add_argument("--tick-rate", type=float, default=60.0)
    parser.add_argument("--server-log", type=Path, help="write the server's log here")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        extra, bench_symbols = extra_contracts(options.contracts, Path(folder))
        symbols = bench_symbols[: options.contracts]
        simulator_port, grpc_port = free_port(), free_port()
        secret = secrets.token_urlsafe(48)
        environment = os.environ | {
            "IB_PORT": str(simulator_port),
            "IB_CLIENT_ID": "5",
            "GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
            "METRICS_LISTEN": "127.0.0.1:0",
            "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bench.sqlite3",
            "JWT_SECRET": secret,
            "LOG_LEVEL": "WARNING",
            "MARKET_DATA_LINE_LIMIT": "100",
        }
        token = mint_token(
            TokenIssuer(secret, "HS256", "ibkr-grpc", "ibkr-grpc"),
            subject="bench",
            role=Role.VIEWER,
            accounts=frozenset(),
            lifetime=timedelta(hours=1),
            now=datetime.now(UTC),
        )
        simulator_command = [
            str(BIN / "ibkr-grpc"),
            "sim",
            "--port",
            str(simulator_port),
            "--tick-rate",
            str(options.tick_rate),
            "--contracts",
            str(extra),
            "--messages-per-second",
            "1000000",
            # A fixed Tuesday morning in regular hours, so a run at night measures the same.
            "--start-time",
            "2026-03-03T10:00:00-05:00",
        ]
        async with process(*simulator_command):
            await asyncio.sleep(2)
            rows = []
            bare = await floor(
                "127.0.0.1", simulator_port, symbols[:CONTRACTS_PER_STREAM], options.seconds
            )
            rows.append(("bare ib_async (floor)", 1, bare, CONTRACTS_PER_STREAM, float("nan")))
            async with process(
                str(BIN / "ibkr-grpc"), "serve", environment=environment, log=options.server_log
            ) as server:
                target = f"127.0.0.1:{grpc_port}"
                async with IbkrClient.connect(target, token=token) as probe:
                    for _ in range(100):
                        with contextlib.suppress(grpc.aio.AioRpcError):
                            status = await probe.gateway.GetGatewayStatus(
                                gateway_service_pb2.GetGatewayStatusRequest(), timeout=1
                            )
                            if status.status.state == gateway_service_pb2.CONNECTION_STATE_READY:
                                break
                        await asyncio.sleep(0.2)
                for streams in (int(count) for count in options.streams.split(",")):
                    sample, lines, rss = await scenario(
                        target, token, streams, symbols, options.seconds, server.pid
                    )
                    rows.append((f"StreamQuotes x {streams}", streams, sample, lines, rss))
                    await asyncio.sleep(6)  # lines linger 5 s after their last stream
    print_table(rows, options)


def print_table(
    rows: list[tuple[str, int, Sample, int, float]], options: argparse.Namespace
) -> None:
    print(
        f"\n{options.contracts} contracts at {options.tick_rate:g} price steps/s, {CONTRACTS_PER_STREAM} contracts per stream, {options.seconds:g} s each, {os.cpu_count()} cores\n"
    )
    header = f"{'scenario':<24}{'msgs/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99 / floor':>12}{'errors':>8}{'IB lines':>10}{'server RSS MB':>15}{'server CPU %':>14}{'CPU us/msg':>12}"
    print(header)
    print("-" * len(header))
    floor_p99 = percentile(rows[0][2].latencies_ms, 0.99)
    for name, _streams, sample, lines, rss in rows:
        p50 = percentile(sample.latencies_ms, 0.50)
        p99 = percentile(sample.latencies_ms, 0.99)
        cpu_share = 100 * sample.server_cpu / options.seconds
        cpu_per_message = 1e6 * sample.server_cpu / max(sample.messages, 1)
        print(
            f"{name:<24}{sample.messages / options.seconds:>10.0f}{p50:>9.1f}{p99:>9.1f}{p99 / floor_p99:>12.1f}{sample.errors:>8}{lines:>10}{rss:>15.0f}{cpu_share:>14.0f}{cpu_per_message:>12.1f}"
        )
    print()


if __name__ == "__main__":
    asyncio.run(main())
