"""Quote fan-out benchmark: quotes per second delivered to 1, 100 and 1,000 concurrent clients
of five contracts each, at what latency, in how much CPU and memory: StreamQuotes beside the
design it replaces (a FastAPI + WebSocket relay, bench/peer_gateway.py) and a bare ib_async
client reading the simulator directly (the floor), all on the same simulated feed.

    .venv/bin/python bench/quote_fanout.py [--seconds 10] [--streams 1,100,1000]

The simulator, the server and the peer run as separate processes (one of server and peer at a
time); the StreamQuotes clients run in this process, the peer's WebSocket clients in one
process of the peer's venv (build/bench-venv, `make bench-venv`). Latency is measured from the
simulator's trade time (RTVolume, milliseconds) to a client's receipt, on every quote that
brings that client a new trade. Prints tables; asserts nothing: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc.aio
from ib_async import IB, Stock, Ticker

from ibkr.v1 import common_pb2, gateway_service_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_client import IbkrClient
from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.domain.identity import Role
from measure import (
    BENCH_VENV,
    CONTRACTS_PER_STREAM,
    SIMULATED_START,
    Sample,
    bench_symbol,
    cpu_seconds,
    free_port,
    load_average,
    percentile,
    process,
    profiled,
    resident_megabytes,
    simulator_clock_offset,
    stream_symbols,
    synthetic_contracts,
    wait_for_port,
)

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
PEER_PYTHON = BENCH_VENV / "bin" / "python"
STREAMS_PER_CHANNEL = 100
WARM_UP_SECONDS = 3.0


@dataclass
class Row:
    name: str
    streams: int
    messages: int
    errors: int
    p50: float
    p99: float
    server_cpu: float = float("nan")
    client_cpu: float = float("nan")
    lines: str = ""
    rss: float = float("nan")


def row_of(name: str, streams: int, sample: Sample) -> Row:
    return Row(
        name,
        streams,
        sample.messages,
        sample.errors,
        percentile(sample.latencies_ms, 0.50),
        percentile(sample.latencies_ms, 0.99),
    )


async def floor(port: int, symbols: list[str], seconds: float, offset: float) -> Row:
    """A bare ib_async client on the simulator: the latency nothing in between adds to."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=77, timeout=10)
    sample = Sample(offset)
    seen: dict[int, float] = {}

    def on_pending(tickers: set[Ticker]) -> None:
        for ticker in tickers:
            trade = ticker.rtTime.timestamp() if ticker.rtTime else None
            sample.record(seen, ticker.contract.conId if ticker.contract else 0, trade)

    try:
        contracts = [Stock(symbol, "SMART", "USD") for symbol in symbols]
        await ib.qualifyContractsAsync(*contracts)
        for contract in contracts:
            ib.reqMktData(contract, "233", snapshot=False, regulatorySnapshot=False)
        ib.pendingTickersEvent += on_pending
        await asyncio.sleep(WARM_UP_SECONDS)
        sample.restart()
        cpu_before = time.process_time()
        await asyncio.sleep(seconds)
        row = row_of("bare ib_async (floor)", 1, sample)
        row.client_cpu = time.process_time() - cpu_before
        row.lines = str(len(symbols))
    finally:
        ib.disconnect()
    return row


async def one_stream(
    client: IbkrClient, symbols: list[str], sample: Sample, quotes_per_message: int
) -> None:
    call = client.market_data.StreamQuotes(quote_request(symbols, quotes_per_message))
    await count_quotes(call, sample)


def quote_request(symbols: list[str], quotes_per_message: int) -> pb.StreamQuotesRequest:
    return pb.StreamQuotesRequest(
        contracts=[common_pb2.Contract(symbol=s) for s in symbols],
        max_quotes_per_message=quotes_per_message,
    )


async def count_quotes(
    call: grpc.aio.UnaryStreamCall[pb.StreamQuotesRequest, pb.StreamQuotesResponse],
    sample: Sample,
) -> None:
    """Every quote the stream brings, into `sample`, until the benchmark cancels its task.
    A stream that ends before that, with any status, is an error: CANCELLED too, which
    grpc-core gives a call the server has not accepted within 30 s (an overloaded server)."""
    seen: dict[int, float] = {}
    try:
        async for response in call:
            payload = response.WhichOneof("payload")
            if payload == "quote":
                quotes: Iterable[pb.Quote] = (response.quote,)
            elif payload == "quotes":
                quotes = response.quotes.quotes
            else:
                continue
            for quote in quotes:  # each quote counts as a message, as the peer's updates do
                stamp = quote.exchange_time
                has_trade = quote.HasField("exchange_time")
                trade = stamp.seconds + stamp.nanos / 1e9 if has_trade else None
                sample.record(seen, quote.contract.con_id, trade)
        sample.errors += 1  # the server ended the stream
    except grpc.aio.AioRpcError:
        sample.errors += 1
    finally:
        call.cancel()


async def stream_quotes(
    target: str,
    token: str,
    streams: int,
    symbols: list[str],
    options: argparse.Namespace,
    server_pid: int,
) -> Row:
    channels = [
        IbkrClient.connect(target, token=token)
        for _ in range(max(1, streams // STREAMS_PER_CHANNEL))
    ]
    sample = Sample(options.clock_offset)
    tasks = [
        asyncio.create_task(
            one_stream(
                channels[index % len(channels)],
                stream_symbols(index, symbols),
                sample,
                options.quotes_per_message,
            )
        )
        for index in range(streams)
    ]
    await asyncio.sleep(WARM_UP_SECONDS)  # let every stream open and its lines start
    sample.restart()
    server_before, client_before = cpu_seconds(server_pid), time.process_time()
    await asyncio.sleep(options.seconds)
    row = row_of(f"StreamQuotes x {streams:,}", streams, sample)
    row.server_cpu = cpu_seconds(server_pid) - server_before
    row.client_cpu = time.process_time() - client_before
    row.rss = resident_megabytes(server_pid)
    status = await channels[0].gateway.GetGatewayStatus(
        gateway_service_pb2.GetGatewayStatusRequest()
    )
    row.lines = str(status.status.market_data_lines_in_use)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return row


async def peer_clients(
    peer_port: int, streams: int, symbols: list[str], options: argparse.Namespace, peer_pid: int
) -> Row:
    command = [
        str(PEER_PYTHON),
        str(HERE / "peer_clients.py"),
        f"--url=ws://127.0.0.1:{peer_port}/quotes",
        f"--streams={streams}",
        f"--symbols={','.join(symbols)}",
        f"--seconds={options.seconds}",
        f"--warm-up={WARM_UP_SECONDS}",
        f"--clock-offset={options.clock_offset}",
    ]
    async with process(*command, stdout_pipe=True) as clients:
        assert clients.stdout is not None
        async with asyncio.timeout(WARM_UP_SECONDS + options.seconds + 60):
            while (await clients.stdout.readline()).strip() != b"measuring":
                pass
            server_before = cpu_seconds(peer_pid)
            result = json.loads(await clients.stdout.readline())
            server_cpu = cpu_seconds(peer_pid) - server_before
            rss = resident_megabytes(peer_pid)
            await clients.wait()
    return Row(
        f"FastAPI + WebSocket x {streams:,}",
        streams,
        result["messages"],
        result["errors"],
        result["p50"],
        result["p99"],
        server_cpu=server_cpu,
        client_cpu=result["client_cpu"],
        lines="-",
        rss=rss,
    )


async def wait_until_ready(target: str, token: str) -> None:
    async with IbkrClient.connect(target, token=token) as probe:
        for _ in range(150):
            with contextlib.suppress(grpc.aio.AioRpcError):
                status = await probe.gateway.GetGatewayStatus(
                    gateway_service_pb2.GetGatewayStatusRequest(), timeout=1
                )
                if status.status.state == gateway_service_pb2.CONNECTION_STATE_READY:
                    return
            await asyncio.sleep(0.2)
    message = "the server did not become READY"
    raise RuntimeError(message)


def server_environment(
    folder: str, simulator_port: int, grpc_port: int, secret: str
) -> dict[str, str]:
    """The server's settings for a benchmark: the simulator, a database in `folder`."""
    return os.environ | {
        "IB_PORT": str(simulator_port),
        "IB_CLIENT_ID": "5",
        "GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
        "METRICS_LISTEN": "127.0.0.1:0",
        "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bench.sqlite3",
        "JWT_SECRET": secret,
        "LOG_LEVEL": "WARNING",
        "MARKET_DATA_LINE_LIMIT": "100",
    }


def viewer_token(secret: str) -> str:
    return mint_token(
        TokenIssuer(secret, "HS256", "ibkr-grpc", "ibkr-grpc"),
        subject="bench",
        role=Role.VIEWER,
        accounts=frozenset(),
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC),
    )


async def run_server(
    options: argparse.Namespace, folder: str, simulator_port: int, symbols: list[str]
) -> list[Row]:
    grpc_port = free_port()
    secret = secrets.token_urlsafe(48)
    environment = server_environment(folder, simulator_port, grpc_port, secret)
    token = viewer_token(secret)
    rows = []
    profile = options.profile / "quote-fanout-server.txt" if options.profile else None
    async with (
        process(
            str(BIN / "ibkr-grpc"), "serve", environment=environment, log=options.server_log
        ) as server,
        profiled(server.pid, profile),
    ):
        target = f"127.0.0.1:{grpc_port}"
        await wait_until_ready(target, token)
        for streams in options.stream_counts:
            rows.append(await stream_quotes(target, token, streams, symbols, options, server.pid))
            await asyncio.sleep(6)  # lines linger 5 s after their last stream
    return rows


async def run_peer(
    options: argparse.Namespace, simulator_port: int, symbols: list[str]
) -> list[Row]:
    peer_port = free_port()
    command = [
        str(PEER_PYTHON),
        str(HERE / "peer_gateway.py"),
        f"--ib-port={simulator_port}",
        f"--port={peer_port}",
    ]
    rows = []
    profile = options.profile / "quote-fanout-peer.txt" if options.profile else None
    async with process(*command, log=options.peer_log) as peer:
        await wait_for_port(peer_port)  # uvicorn listens once the IB connection is up
        async with profiled(peer.pid, profile):
            for streams in options.stream_counts:
                rows.append(await peer_clients(peer_port, streams, symbols, options, peer.pid))
                await asyncio.sleep(2)
    return rows


@contextlib.asynccontextmanager
async def simulated_feed(options: argparse.Namespace, folder: Path) -> AsyncIterator[int]:
    """The simulator playing `options.contracts` contracts at `options.tick_rate`, for the
    block; yields its API port and sets `options.clock_offset` from its clock."""
    simulator_port, control_port = free_port(), free_port()
    simulator_command = [
        str(BIN / "ibkr-grpc"),
        "sim",
        f"--port={simulator_port}",
        f"--tick-rate={options.tick_rate}",
        f"--contracts={synthetic_contracts(options.contracts, folder)}",
        "--messages-per-second=1000000",
        f"--start-time={SIMULATED_START}",
        f"--control-port={control_port}",
    ]
    async with process(*simulator_command):
        await wait_for_port(simulator_port)
        await wait_for_port(control_port)
        options.clock_offset = await simulator_clock_offset(control_port)
        yield simulator_port


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--streams", default="1,100,1000", help="client counts, comma-separated")
    parser.add_argument("--contracts", type=int, default=50)
    parser.add_argument("--tick-rate", type=float, default=60.0)
    parser.add_argument("--no-peer", action="store_true", help="skip the FastAPI peer")
    parser.add_argument(
        "--quotes-per-message",
        type=int,
        default=1,
        help="StreamQuotes max_quotes_per_message (1: one quote per message, the default)",
    )
    parser.add_argument("--server-log", type=Path, help="write the server's log here")
    parser.add_argument("--peer-log", type=Path, help="write the peer's log here")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy server and peer into DIR"
    )
    options = parser.parse_args()
    options.stream_counts = [int(count) for count in options.streams.split(",")]
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
    peer = not options.no_peer
    if peer and not PEER_PYTHON.exists():
        print(f"{PEER_PYTHON} is missing (make bench-venv): the peer is left out")
        peer = False
    symbols = [bench_symbol(index) for index in range(options.contracts)]
    loads = [load_average()]
    with tempfile.TemporaryDirectory() as folder:
        async with simulated_feed(options, Path(folder)) as simulator_port:
            first = symbols[:CONTRACTS_PER_STREAM]
            rows = [await floor(simulator_port, first, options.seconds, options.clock_offset)]
            server_rows = await run_server(options, folder, simulator_port, symbols)
            loads.append(load_average())
            peer_rows = await run_peer(options, simulator_port, symbols) if peer else []
            loads.append(load_average())
    print_tables(rows + server_rows + peer_rows, server_rows, peer_rows, options, loads)


def micros(seconds: float, messages: int) -> float:
    return 1e6 * seconds / messages if messages else float("nan")


def print_tables(
    rows: list[Row],
    server_rows: list[Row],
    peer_rows: list[Row],
    options: argparse.Namespace,
    loads: list[str],
) -> None:
    print(
        f"\n{options.contracts} contracts at {options.tick_rate:g} price steps/s, "
        f"{CONTRACTS_PER_STREAM} contracts per client, {options.seconds:g} s per row, "
        f"up to {options.quotes_per_message} quote(s) per StreamQuotes message, "
        f"{os.cpu_count()} cores, load average {' / '.join(loads)} (start / after server / end)\n"
    )
    print(
        "| scenario | msgs/s | p50 ms | p99 ms | errors | IB lines | server RSS MB "
        "| server CPU % | server CPU us/msg | client CPU us/msg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.name} | {row.messages / options.seconds:,.0f} | {row.p50:.1f} "
            f"| {row.p99:.1f} | {row.errors} | {row.lines} | {row.rss:.0f} "
            f"| {100 * row.server_cpu / options.seconds:.0f} "
            f"| {micros(row.server_cpu, row.messages):.1f} "
            f"| {micros(row.client_cpu, row.messages):.1f} |".replace("nan", "")
        )
    if not peer_rows:
        return
    print("\nStreamQuotes / FastAPI + WebSocket (above 1 StreamQuotes is ahead on throughput, ")
    print("below 1 on latency, CPU and memory)\n")
    print("| clients | msgs/s | p50 | p99 | server CPU per msg | server RSS | client CPU per msg |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    peers = {row.streams: row for row in peer_rows}
    for ours in server_rows:
        theirs = peers.get(ours.streams)
        if theirs is None:
            continue
        ratios = [
            ours.messages / max(theirs.messages, 1),
            ours.p50 / theirs.p50,
            ours.p99 / theirs.p99,
            micros(ours.server_cpu, ours.messages) / micros(theirs.server_cpu, theirs.messages),
            ours.rss / theirs.rss,
            micros(ours.client_cpu, ours.messages) / micros(theirs.client_cpu, theirs.messages),
        ]
        print(f"| {ours.streams:,} | " + " | ".join(f"{ratio:.2f}" for ratio in ratios) + " |")
    print()


if __name__ == "__main__":
    asyncio.run(main())
