"""What one order costs the database: statements and transactions per PlaceOrder, counted
with SQLAlchemy's engine events on a real server (simulator over TCP, ib_async, grpc.aio),
on SQLite and PostgreSQL.

    .venv/bin/python bench/order_statements.py [--orders 20] [--database-url URL]

For each kind of order (a resting limit buy, and a market order that fills), a few unmeasured
orders warm the path up, then `--orders` orders are placed one at a time and every broker
report they cause is applied before counting stops. Prints a table per database; asserts
nothing. The order path's CPU (bench/order_path.py) is mostly these statements' cost through
SQLAlchemy and the async driver, so this is the table to read beside that one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event, select
from sqlalchemy.engine import Engine

# The server fixtures live with the tests; this script runs as `python bench/order_statements.py`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server.conftest import ACCOUNT, running_server, simulator_config
from tests.support.databases import DEFAULT_TEST_DATABASE_URL, migrated_database

from ibkr.v1 import common_pb2, order_service_pb2
from ibkr_grpc.logging_setup import configure_logging
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.tables import OrderRow
from ibkr_simulator import Simulator

WARM_UP = 5
READS = 1000
AAPL = common_pb2.Contract(symbol="AAPL", security_type=common_pb2.SECURITY_TYPE_STOCK)


class StatementCounter:
    """Statements by their first word, and transactions begun, committed and rolled back, while
    `counting` is set."""

    def __init__(self) -> None:
        self.counting = False
        self.counts: Counter[str] = Counter()
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "begin", self._named("transactions begun"))
        event.listen(Engine, "commit", self._named("commits"))
        event.listen(Engine, "rollback", self._named("rollbacks"))

    def _statement(self, *arguments: Any) -> None:
        if self.counting:
            self.counts[str(arguments[2]).split(None, 1)[0].upper()] += 1

    def _named(self, name: str) -> Any:
        def count(*_: Any) -> None:
            if self.counting:
                self.counts[name] += 1

        return count


def request(kind: str, number: int, bid: float) -> order_service_pb2.PlaceOrderRequest:
    message = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=AAPL,
        side=common_pb2.SIDE_BUY,
        quantity="1",
        time_in_force=order_service_pb2.TIME_IN_FORCE_DAY,
        client_order_id=f"{kind}-{number}",
    )
    if kind == "limit":
        message.order_type = order_service_pb2.ORDER_TYPE_LIMIT
        message.limit_price = f"{bid * 0.5:.2f}"  # rests: half the bid
    else:
        message.order_type = order_service_pb2.ORDER_TYPE_MARKET
    return message


async def cpu_per_call(call: Callable[[], Awaitable[object]]) -> float:
    """The process's CPU microseconds per call of `call`, after a short warm-up."""
    for _ in range(READS // 10):
        await call()
    started = time.process_time()
    for _ in range(READS):
        await call()
    return (time.process_time() - started) / READS * 1e6


async def read_costs(database: Database) -> dict[str, float]:
    """What one read costs, step by step: a pooled connection checked out and back, a trivial
    statement on it, a Core select of an order's row, and the store's read of an order by id
    (a read transaction with one SELECT, the row made an Order). A store of its own, so the
    read goes to the database (the server's store remembers what it wrote)."""
    store = OrderStore(database)
    order_id = (await store.working_orders())[0].order_id
    table = cast("Table", OrderRow.__table__)
    by_id = select(table).where(table.c.order_id == order_id)

    async def checkout() -> None:
        async with database.engine.connect():
            pass

    async def trivial() -> None:
        async with database.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    async def row() -> None:
        async with database.engine.connect() as connection:
            (await connection.execute(by_id)).one()

    return {
        "connection checked out and back": await cpu_per_call(checkout),
        "... and SELECT 1 on it": await cpu_per_call(trivial),
        "... and a Core select of an order's row": await cpu_per_call(row),
        "the store's read of an order by id": await cpu_per_call(lambda: store.get(order_id)),
    }


async def measure(
    backend: str, orders: int, counter: StatementCounter
) -> tuple[dict[str, Counter[str]], dict[str, float]]:
    """Statements per order by kind, and what one read costs (read_costs)."""
    per_kind: dict[str, Counter[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        async with (
            Simulator(simulator_config()) as simulator,
            migrated_database(backend, Path(folder)) as migrated,
            running_server(simulator, migrated) as server,
        ):
            bid = float(simulator.quote("AAPL").bid)
            manager = server.application.order_manager
            for kind in ("limit", "market"):
                for number in range(WARM_UP):
                    await server.client.orders.PlaceOrder(request(kind, -1 - number, bid))
                await manager.settled()
                counter.counts.clear()
                counter.counting = True
                for number in range(orders):
                    await server.client.orders.PlaceOrder(request(kind, number, bid))
                    # IB's later reports (fills, commissions) belong to the order too.
                    await asyncio.sleep(0.05)
                    await manager.settled()
                counter.counting = False
                per_kind[kind] = Counter(counter.counts)
            costs = await read_costs(server.application.database)
    return per_kind, costs


def table(
    backend: str, orders: int, per_kind: dict[str, Counter[str]], costs: dict[str, float]
) -> str:
    rows = ["transactions begun", "commits", "rollbacks", "SELECT", "INSERT", "UPDATE", "DELETE"]
    lines = [
        f"`{backend}: per order, mean of {orders} orders placed one at a time`:",
        "",
        "| per order | limit (rests) | market (fills) |",
        "|---|---:|---:|",
    ]
    for row in rows:
        values = [per_kind[kind][row] / orders for kind in ("limit", "market")]
        lines.append(f"| {row} | {values[0]:.1f} | {values[1]:.1f} |")
    statements = [
        sum(v for k, v in per_kind[kind].items() if k.isupper()) / orders
        for kind in ("limit", "market")
    ]
    lines.append(f"| statements in all | {statements[0]:.1f} | {statements[1]:.1f} |")
    lines += [
        "",
        f"`{backend}: what one read costs, the server process's CPU, mean of {READS:,}`:",
        "",
        "| step | CPU us |",
        "|---|---:|",
    ]
    lines += [f"| {step} | {cpu:,.0f} |" for step, cpu in costs.items()]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20, help="measured orders of each kind")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL),
        help="PostgreSQL to make a schema in; 'none' leaves PostgreSQL out",
    )
    arguments = parser.parse_args()
    os.environ["TEST_DATABASE_URL"] = arguments.database_url
    configure_logging("WARNING")
    counter = StatementCounter()
    backends = ["sqlite"] if arguments.database_url == "none" else ["sqlite", "postgresql"]
    for backend in backends:
        per_kind, costs = await measure(backend, arguments.orders, counter)
        print(table(backend, arguments.orders, per_kind, costs), end="\n\n", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
