"""`ibkr-grpc demo`: the credential-free demo in one process: the simulated gateway and the
server on an embedded SQLite database, with ready-to-paste commands to call it."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.app import Application
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.logging_setup import configure_logging
from ibkr_grpc.settings import Settings
from ibkr_simulator.config import SimulatorConfig
from ibkr_simulator.simulator import Simulator

DEMO_DATABASE_URL = "sqlite+aiosqlite:///var/demo.sqlite3"


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
    options = parser.parse_args(list(arguments))
    configure_logging(options.log_level.upper())
    asyncio.run(_demo(options))
    return 0


def banner(grpc_listen: str, simulator_port: int, token: str) -> str:
    buf = (
        "node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge"
        ' -H "authorization: Bearer $TOKEN"'
    )
    url = f"http://{grpc_listen}"
    return f"""
ibkr-grpc demo is running (paper trading against the simulated gateway; Ctrl-C stops it)

  gRPC server        {grpc_listen}   (reflection on: no proto files needed)
  simulated gateway  127.0.0.1:{simulator_port}   (point any ib_async script here, clientId != 11)

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
    simulator = Simulator(SimulatorConfig(port=options.simulator_port, seed=options.seed))
    secret = secrets.token_urlsafe(48)
    settings = Settings(
        ib_host="127.0.0.1",
        ib_port=options.simulator_port,
        ib_client_id=11,
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
    try:
        await application.start()
        print(banner(options.grpc_listen, simulator.port, token), flush=True)  # noqa: T201
        await stop.wait()
    finally:
        await application.stop()
        await simulator.stop()
    print("ibkr-grpc demo stopped", flush=True)  # noqa: T201
