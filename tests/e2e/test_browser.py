"""The trader's session in real headless Chromium: the UI that Envoy serves from webapp/dist, over
gRPC-Web to the real server (JWT auth, SQLite) in front of the simulated gateway with ticking
prices.

This module starts the stack on free 127.0.0.1 ports and runs the browser script
(webapp/e2e/trading.e2e.ts, `npm run test:e2e`: vitest + playwright-core driving Debian's
Chromium) as a subprocess, passing the base URL, a token and the artifacts folder in E2E_*
variables. The screenshots of every step and the script's output (browser.log) land in
build/e2e-artifacts/. Afterwards the server is asked directly whether what the UI showed really
happened. The story ends on the options page: an iron condor on AAPL priced from the option chain
at its natural price, placed from the spread ticket as one order, filled, and four option legs
with multiplier 100 in positions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ibkr.v1 import common_pb2, order_service_pb2, portfolio_service_pb2, risk_service_pb2
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from ibkr_simulator.config import SimulatorConfig
from tests.edge.envoy_process import REPOSITORY, RunningEnvoy, edge_config, running_envoy
from tests.server.conftest import ACCOUNT, RunningServer, mint, running_server
from tests.support.databases import migrated_database
from tests.support.market_hours import TRADING_MORNING
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

# Debian's package (/usr/bin/chromium), or whichever `chromium` the PATH finds first: the one the
# Makefile's install line checks for.
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
INSTALL_CHROMIUM = (
    "command -v chromium >/dev/null || "
    "(apt-get update -qq && apt-get install -y --no-install-recommends chromium)"
)
WEBAPP = REPOSITORY / "webapp"
WEBAPP_DIST = WEBAPP / "dist"
PLAYWRIGHT = REPOSITORY / "node_modules" / "playwright-core" / "package.json"
ARTIFACTS = REPOSITORY / "build" / "e2e-artifacts"
# The browser story takes about 10 s; this only bounds a hung run.
BROWSER_TIMEOUT_SECONDS = 150
# One screenshot per step, in the order the script takes them.
SCREENSHOTS = (
    "01-no-token.png",
    "02-halted.png",
    "03-dashboard.png",
    "04-watchlist-ticking.png",
    "05-chart-candlesticks.png",
    "06-ticket-quote.png",
    "07-ticket-confirm-limit.png",
    "08-ticket-limit-placed.png",
    "09-blotter-working-limit.png",
    "10-blotter-after-cancel.png",
    "11-ticket-confirm-market.png",
    "12-blotter-market-filled.png",
    "13-positions.png",
    "14-positions-close-confirm.png",
    "15-positions-closed.png",
    "16-dashboard-after-trading.png",
    "17-dashboard-after-reload.png",
    "18-narrow-dashboard.png",
    "19-narrow-ticket.png",
    "20-narrow-orders.png",
    "21-narrow-positions.png",
    "22-narrow-watchlist.png",
    "23-ticket-depth.png",
    "24-option-chain.png",
    "25-spread-confirm.png",
    "26-orders-condor-filled.png",
    "27-positions-condor.png",
)
# tests/e2e halts trading through the admin API before the browser starts; the trader finds it
# halted and resumes it from the UI.
HALT_REASON = "e2e: opening checks"


@dataclass(frozen=True)
class Stack:
    envoy: RunningEnvoy
    server: RunningServer
    token: str


def _newest_source(folder: Path) -> float:
    return max((path.stat().st_mtime for path in folder.rglob("*") if path.is_file()), default=0.0)


def require_prerequisites() -> None:
    """Fail (never skip) with the command that fixes whatever is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium ({CHROMIUM}) is missing; install it with:\n  {INSTALL_CHROMIUM}")
    if not PLAYWRIGHT.is_file():
        pytest.fail("playwright-core is not installed in node_modules: run `make setup`")
    index = WEBAPP_DIST / "index.html"
    if not index.is_file():
        pytest.fail(f"{index} is missing: run `make webapp` to build the UI")
    if _newest_source(WEBAPP / "src") > index.stat().st_mtime:
        pytest.fail("webapp/dist is older than webapp/src: run `make webapp` to rebuild the UI")


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """The simulated gateway with a running clock: quotes tick and market orders fill."""
    config = SimulatorConfig(
        start_time=TRADING_MORNING,
        port=0,
        seed=7,
        tick_rate=5,
        accounts=(ACCOUNT,),
        account_update_interval=0.2,
    )
    async with Simulator(config) as running:
        yield running


@pytest.fixture
async def stack(simulator: Simulator, tmp_path: Path) -> AsyncIterator[Stack]:
    require_prerequisites()
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        # The UI is same-origin with the API: no CORS origin is needed.
        config = edge_config(
            server.application.port, tmp_path, static_dir=WEBAPP_DIST, allowed_origins=()
        )
        async with running_envoy(config, tmp_path) as envoy:
            yield Stack(envoy, server, mint(Role.ADMIN, "e2e"))


async def run_browser_script(stack: Stack) -> tuple[int, str]:
    """`npm run test:e2e` against the stack: its exit code and its output (stdout + stderr)."""
    environment = {
        **os.environ,
        "E2E_BASE_URL": stack.envoy.base_url,
        "E2E_TOKEN": stack.token,
        "E2E_ARTIFACTS": str(ARTIFACTS),
        "E2E_ACCOUNT": ACCOUNT,
        "E2E_CHROMIUM": str(CHROMIUM),
        "E2E_HALT_REASON": HALT_REASON,
        "NO_COLOR": "1",
    }
    # npm starts vitest, which starts Chromium: a session of their own, so a hung run is ended
    # whole (npm, node, every Chromium process), never leaving a browser behind.
    process = await asyncio.create_subprocess_exec(
        "npm",
        "run",
        "--silent",
        "--workspace",
        "webapp",
        "test:e2e",
        cwd=REPOSITORY,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(BROWSER_TIMEOUT_SECONDS):
            output, _ = await process.communicate()
    except TimeoutError:
        output = b"(no output: killed after %d s)" % BROWSER_TIMEOUT_SECONDS
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_a_trader_places_cancels_and_fills_orders_in_chromium(stack: Stack) -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    client = stack.server.client
    await client.risk.HaltTrading(risk_service_pb2.HaltTradingRequest(reason=HALT_REASON))

    returncode, output = await run_browser_script(stack)
    (ARTIFACTS / "browser.log").write_text(output)

    envoy_log = stack.envoy.log.read_text(errors="replace")[-4000:]
    assert returncode == 0, (
        f"the browser script failed ({returncode}); screenshots in {ARTIFACTS}\n"
        f"{output}\n--- envoy log (tail) ---\n{envoy_log}"
    )
    missing = [name for name in SCREENSHOTS if not (ARTIFACTS / name).is_file()]
    assert not missing, f"screenshots not taken: {missing}\n{output}"

    # What the UI showed happened at the server: trading resumed by the admin in the browser, the
    # limit order cancelled, the market order filled, and the position it made closed by a market
    # sell.
    state = await client.risk.GetTradingState(risk_service_pb2.GetTradingStateRequest())
    assert not state.state.halted, state
    assert (state.state.halted_by, state.state.reason) == ("e2e", "e2e: checks done"), state
    listed = await client.orders.ListOrders(order_service_pb2.ListOrdersRequest())
    assert len(listed.orders) == 4, listed
    (condor,) = (o for o in listed.orders if o.legs)
    single = [o for o in listed.orders if not o.legs]
    limit = next(o for o in single if o.order_type == order_service_pb2.ORDER_TYPE_LIMIT)
    market, close = sorted(
        (o for o in single if o.order_type == order_service_pb2.ORDER_TYPE_MARKET),
        key=lambda order: order.side,
    )
    assert (limit.contract.symbol, limit.quantity, limit.status) == (
        "AAPL",
        "10",
        order_service_pb2.ORDER_STATUS_CANCELLED,
    )
    assert (market.contract.symbol, market.quantity, market.status) == (
        "AAPL",
        "5",
        order_service_pb2.ORDER_STATUS_FILLED,
    )
    assert (close.contract.symbol, close.side, close.quantity, close.status) == (
        "AAPL",
        common_pb2.SIDE_SELL,
        "5",
        order_service_pb2.ORDER_STATUS_FILLED,
    )
    assert limit.order_id in output
    assert market.order_id in output
    assert close.order_id in output
    # The iron condor from the chain page: one combination order of four legs, bought for a credit
    # (a negative net limit), filled as one; each leg a position of its own, x100.
    assert condor.order_id in output
    assert (condor.order_type, condor.side, condor.status) == (
        order_service_pb2.ORDER_TYPE_LIMIT,
        common_pb2.SIDE_BUY,
        order_service_pb2.ORDER_STATUS_FILLED,
    ), condor
    assert condor.limit_price.startswith("-"), condor
    assert sorted((leg.contract.right, leg.side) for leg in condor.legs) == sorted(
        [
            (common_pb2.OPTION_RIGHT_PUT, common_pb2.SIDE_BUY),
            (common_pb2.OPTION_RIGHT_PUT, common_pb2.SIDE_SELL),
            (common_pb2.OPTION_RIGHT_CALL, common_pb2.SIDE_SELL),
            (common_pb2.OPTION_RIGHT_CALL, common_pb2.SIDE_BUY),
        ]
    ), condor
    positions = await client.portfolio.ListPositions(
        portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT, symbol="AAPL")
    )
    legs = {
        p.contract.con_id: (p.quantity, p.multiplier)
        for p in positions.positions
        if p.contract.security_type == common_pb2.SECURITY_TYPE_OPTION
    }
    expected = {
        leg.contract.con_id: ("1" if leg.side == common_pb2.SIDE_BUY else "-1", "100")
        for leg in condor.legs
    }
    assert legs == expected, positions

    async def flat() -> bool:
        response = await client.portfolio.ListPositions(
            portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT)
        )
        return all(
            p.quantity == "0"
            for p in response.positions
            if p.contract.symbol == "AAPL"
            and p.contract.security_type == common_pb2.SECURITY_TYPE_STOCK
        )

    await eventually(flat, within=5, message="the server still holds the AAPL the UI closed")
