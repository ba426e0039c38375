"""Order-path benchmark: how long an order takes to be acknowledged, bare ib_async (placeOrder to
the simulator's first orderStatus) beside the server's PlaceOrder (gRPC call to response), at one
order in flight and at a steady 20, 45 and 100 orders a second offered, on SQLite and PostgreSQL.

    .venv/bin/python bench/order_path.py [--seconds 5] [--loads 1,20,45,100] \
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

The simulator keeps IB's own pace (50 messages a second per client). Limit orders rest far from
the market (a buy at half the price); market orders alternate buy and sell, one share each.
Offered loads are open-loop: order n leaves at start + n / rate whatever the earlier ones did,
and each has `--deadline` seconds to be acknowledged. On PostgreSQL the server gets a role and
schema of its own, dropped afterwards. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc.aio
from ib_async import IB, Contract, LimitOrder, MarketOrder, Order, Stock, Trade
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from ibkr.v1 import common_pb2, gateway_service_pb2
from ibkr.v1 import order_service_pb2 as pb
from ibkr_client import IbkrClient
from ibkr_grpc.api.tokens import TokenIssuer, mint_token
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.store.database import normalise_url
from measure import (
    SIMULATED_START,
    bench_symbol,
    cpu_seconds,
    free_port,
    load_average,
    percentile,
    process,
    profiled,
    synthetic_contracts,
    wait_for_port,
)

BIN = Path(sys.executable).parent
ACCOUNT = "DU1234567"
SYMBOL = bench_symbol(0)  # priced at 50
RESTING_LIMIT = "25.00"
ACCEPTED = frozenset({"PreSubmitted", "Submitted", "Filled"})
ENDED = frozenset({"Cancelled", "ApiCancelled", "Inactive"})
KINDS = ("limit", "market")

Send = Callable[[int], Awaitable[None]]


class OrderFailedError(Exception):
    """An order that was not acknowledged; its text is the code it failed with."""


@dataclass
class Outcome:
    name: str
    load: str
    kind: str
    offered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    server_cpu: float = float("nan")

    def p(self, share: float) -> float:
        return percentile(self.latencies_ms, share)

    @property
    def acknowledged(self) -> int:
        return sum(1 for latency in self.latencies_ms if latency != float("inf"))

    @property
    def rate(self) -> float:
        return self.acknowledged / self.elapsed if self.elapsed else 0.0


async def timed(send: Send, number: int, deadline: float, outcome: Outcome) -> None:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            await send(number)
    except TimeoutError:
        outcome.errors["no answer in time"] += 1
        outcome.latencies_ms.append(float("inf"))  # in the percentiles, as slower than any
    except OrderFailedError as error:
        outcome.errors[str(error)] += 1
    else:
        outcome.latencies_ms.append((time.perf_counter() - started) * 1000)


async def drive(send: Send, rate: float, options: argparse.Namespace, outcome: Outcome) -> None:
    """Rate 1 is one order in flight, one after another; any other rate is open-loop."""
    started = time.perf_counter()
    if rate == 1:
        while time.perf_counter() - started < options.seconds:
            await timed(send, outcome.offered, options.deadline, outcome)
            outcome.offered += 1
    else:
        tasks = []
        for number in range(int(rate * options.seconds)):
            delay = started + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(timed(send, number, options.deadline, outcome)))
        outcome.offered = len(tasks)
        await asyncio.gather(*tasks)
    outcome.elapsed = time.perf_counter() - started


async def warm_up(send: Send, options: argparse.Namespace) -> None:
    """Twenty orders one at a time, not measured: the first orders of a process pay for its
    lazy imports and cold caches."""
    for number in range(20):
        await timed(send, number, options.deadline, Outcome("", "", ""))


# ---- bare ib_async ------------------------------------------------------------------------


class BareOrders:
    """placeOrder on an ib_async connection, answered by the first orderStatus IB sends."""

    def __init__(self, ib: IB, contract: Contract) -> None:
        self.ib = ib
        self.contract = contract
        self.waiting: dict[int, asyncio.Future[None]] = {}
        self.last_error: dict[int, int] = {}
        ib.orderStatusEvent += self.on_status
        ib.errorEvent += self.on_error

    def on_error(self, request_id: int, code: int, _message: str, _contract: object) -> None:
        self.last_error[request_id] = code

    def on_status(self, trade: Trade) -> None:
        status = trade.orderStatus.status
        waiting = self.waiting.get(trade.order.orderId)
        if waiting is None or waiting.done() or status not in ACCEPTED | ENDED:
            return
        if status in ACCEPTED:
            waiting.set_result(None)
        else:
            code = self.last_error.get(trade.order.orderId)
            waiting.set_exception(OrderFailedError(f"IB {code or status}"))

    def sender(self, kind: str) -> Send:
        async def send(number: int) -> None:
            order: Order
            if kind == "limit":
                order = LimitOrder("BUY", 1, float(RESTING_LIMIT), account=ACCOUNT)
            else:
                order = MarketOrder("BUY" if number % 2 == 0 else "SELL", 1, account=ACCOUNT)
            answer = asyncio.get_running_loop().create_future()
            trade = self.ib.placeOrder(self.contract, order)
            self.waiting[trade.order.orderId] = answer
            try:
                await answer
            finally:
                self.waiting.pop(trade.order.orderId, None)

        return send


async def bare_rows(port: int, options: argparse.Namespace) -> list[Outcome]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=77, timeout=10)
    rows = []
    try:
        contract = Stock(SYMBOL, "SMART", "USD")
        await ib.qualifyContractsAsync(contract)
        orders = BareOrders(ib, contract)
        for kind in KINDS:
            await warm_up(orders.sender(kind), options)
        ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
        await asyncio.sleep(2)
        for rate in options.rates:
            for kind in KINDS:
                outcome = Outcome("bare ib_async", load_name(rate), kind)
                await drive(orders.sender(kind), rate, options, outcome)
                rows.append(outcome)
                ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
                await asyncio.sleep(2)
    finally:
        ib.disconnect()
    return rows


# ---- the server ---------------------------------------------------------------------------


def server_sender(client: IbkrClient, kind: str, run: str, deadline: float) -> Send:
    async def send(number: int) -> None:
        request = pb.PlaceOrderRequest(
            account=ACCOUNT,
            contract=common_pb2.Contract(symbol=SYMBOL),
            quantity="1",
            client_order_id=f"{run}-{kind}-{number}",
        )
        if kind == "limit":
            request.side = common_pb2.SIDE_BUY
            request.order_type = pb.ORDER_TYPE_LIMIT
            request.limit_price = RESTING_LIMIT
        else:
            request.side = common_pb2.SIDE_BUY if number % 2 == 0 else common_pb2.SIDE_SELL
            request.order_type = pb.ORDER_TYPE_MARKET
        try:
            await client.orders.PlaceOrder(request, timeout=deadline)
        except grpc.aio.AioRpcError as error:
            raise OrderFailedError(error.code().name) from error

    return send


async def wait_until_quiet(pid: int, *, within: float = 30.0) -> None:
    """Until the server spends under a tenth of a core (its backlog from the last row done)."""
    until = time.monotonic() + within
    while time.monotonic() < until:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return


async def server_rows(
    name: str, database_url: str, simulator_port: int, options: argparse.Namespace
) -> list[Outcome]:
    grpc_port = free_port()
    secret = secrets.token_urlsafe(48)
    environment = os.environ | {
        "IB_PORT": str(simulator_port),
        "IB_CLIENT_ID": "5",
        "GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
        "METRICS_LISTEN": "127.0.0.1:0",
        "DATABASE_URL": database_url,
        "JWT_SECRET": secret,
        "LOG_LEVEL": "WARNING",
    }
    token = mint_token(
        TokenIssuer(secret, "HS256", "ibkr-grpc", "ibkr-grpc"),
        subject="bench",
        role=Role.TRADER,
        accounts=frozenset({ACCOUNT}),
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC),
    )
    if not database_url.startswith("sqlite"):
        upgrade = await asyncio.create_subprocess_exec(
            str(BIN / "ibkr-grpc"),
            "db",
            "upgrade",
            env=environment,
            stdout=asyncio.subprocess.DEVNULL,
        )
        await upgrade.wait()
    rows = []
    run = uuid.uuid4().hex[:8]
    profile = options.profile / f"order-path-{name}.txt" if options.profile else None
    async with (
        process(
            str(BIN / "ibkr-grpc"), "serve", environment=environment, log=options.server_log
        ) as server,
        profiled(server.pid, profile),
    ):
        target = f"127.0.0.1:{grpc_port}"
        async with IbkrClient.connect(target, token=token) as client:
            await wait_until_ready(client)
            for kind in KINDS:
                await warm_up(server_sender(client, kind, f"{run}-warm-up", 10), options)
            await cancel_everything(simulator_port)
            await wait_until_quiet(server.pid)
            for rate in options.rates:
                for kind in KINDS:
                    outcome = Outcome(f"PlaceOrder, {name}", load_name(rate), kind)
                    before = cpu_seconds(server.pid)
                    send = server_sender(client, kind, run, options.deadline)
                    await drive(send, rate, options, outcome)
                    outcome.server_cpu = cpu_seconds(server.pid) - before
                    rows.append(outcome)
                    await cancel_everything(simulator_port)
                    await wait_until_quiet(server.pid)
    return rows


async def cancel_everything(simulator_port: int) -> None:
    """reqGlobalCancel from a connection of its own: the resting orders of every client go,
    so that the next row starts from the same book."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", simulator_port, clientId=78, timeout=10)
    ib.reqGlobalCancel()  # type: ignore[no-untyped-call]
    await asyncio.sleep(1)
    ib.disconnect()


async def wait_until_ready(client: IbkrClient) -> None:
    for _ in range(300):
        try:
            status = await client.gateway.GetGatewayStatus(
                gateway_service_pb2.GetGatewayStatusRequest(), timeout=1
            )
        except grpc.aio.AioRpcError:
            status = None
        if status and status.status.state == gateway_service_pb2.CONNECTION_STATE_READY:
            return
        await asyncio.sleep(0.2)
    message = "the server did not become READY"
    raise RuntimeError(message)


@asynccontextmanager
async def postgresql_schema(base_url: str) -> AsyncIterator[str]:
    """A role and a schema named alike (the role's default search_path finds it), dropped on
    the way out: the server's URL is the base URL with that role as the user."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalise_url(base_url))
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        await connection.execute(text(f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"'))
    try:
        url = make_url(normalise_url(base_url)).set(username=name)
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
            await connection.execute(text(f'DROP ROLE "{name}"'))
        await admin.dispose()


@asynccontextmanager
async def simulator(contracts: Path) -> AsyncIterator[int]:
    """A fresh simulated gateway for each path: a server connecting to one that still holds
    the previous path's orders would first reconcile them all."""
    port = free_port()
    command = [str(BIN / "ibkr-grpc"), "sim", f"--port={port}", f"--contracts={contracts}"]
    command += [f"--accounts={ACCOUNT}", f"--start-time={SIMULATED_START}"]
    async with process(*command):
        await wait_for_port(port)
        yield port


def load_name(rate: float) -> str:
    return "1 in flight" if rate == 1 else f"{rate:g}/s"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="seconds of offered load per row"
    )
    parser.add_argument("--loads", default="1,20,45,100", help="1 is one in flight; else orders/s")
    parser.add_argument("--deadline", type=float, default=10.0, help="seconds to acknowledge")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL to make a schema in; 'none' leaves PostgreSQL out",
    )
    parser.add_argument("--server-log", type=Path, help="write the server's log here")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the server into DIR (collapsed stacks)"
    )
    options = parser.parse_args()
    # ib_async logs every cancellation the global cancel between rows causes.
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    options.rates = [float(load) for load in options.loads.split(",")]
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
    loads = [load_average()]
    with tempfile.TemporaryDirectory() as folder:
        contracts = synthetic_contracts(1, Path(folder), volatility=0.1)
        async with simulator(contracts) as port:
            rows = await bare_rows(port, options)
        async with simulator(contracts) as port:
            sqlite = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
            rows += await server_rows("SQLite", sqlite, port, options)
        loads.append(load_average())
        if options.database_url != "none":
            async with simulator(contracts) as port, postgresql_schema(options.database_url) as url:
                rows += await server_rows("PostgreSQL", url, port, options)
        loads.append(load_average())
    print_table(rows, options, loads)


def milliseconds(value: float, deadline: float) -> str:
    return f"> {deadline * 1000:,.0f}" if value == float("inf") else f"{value:,.1f}"


def added(row: Outcome, floor: Outcome, share: float) -> str:
    """The server's latency minus bare ib_async's under the same offered load. Not for one in
    flight: there each path offers as fast as it is answered, so the loads differ."""
    if row is floor or row.load == load_name(1):
        return ""
    difference = row.p(share) - floor.p(share)
    return f"{difference:,.1f}" if math.isfinite(difference) else ""


def print_table(rows: list[Outcome], options: argparse.Namespace, loads: list[str]) -> None:
    print(
        f"\nOrders on one contract, {options.seconds:g} s of offered load per row, "
        f"{options.deadline:g} s deadline, simulator at IB's 50 messages/s, {os.cpu_count()} "
        f"cores, load average {' / '.join(loads)} (start / after SQLite / end)\n"
    )
    print(
        "| load | order | path | offered | acked | orders/s | ack p50 ms | ack p99 ms "
        "| added p50 ms | added p99 ms | errors | server CPU ms/order |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    bare = {(row.load, row.kind): row for row in rows if row.name == "bare ib_async"}
    for row in rows:
        floor = bare.get((row.load, row.kind), row)
        errors = ", ".join(f"{code} {count}" for code, count in row.errors.most_common()) or "0"
        cpu = row.server_cpu / max(row.acknowledged, 1)
        print(
            f"| {row.load} | {row.kind} | {row.name} | {row.offered} | {row.acknowledged} "
            f"| {row.rate:.1f} | {milliseconds(row.p(0.5), options.deadline)} "
            f"| {milliseconds(row.p(0.99), options.deadline)} | {added(row, floor, 0.5)} "
            f"| {added(row, floor, 0.99)} | {errors} "
            f"| {'' if math.isnan(cpu) else f'{1000 * cpu:.1f}'} |"
        )
    print()


if __name__ == "__main__":
    asyncio.run(main())
