"""Reconciliation benchmark: how long the order manager takes to settle IB's records after a
reconnect, with a large stored history, on SQLite and PostgreSQL.

    .venv/bin/python bench/reconcile.py [--stored 100000] [--today 1000] [--working 100]

The store holds `--stored` finished orders (the history) plus `--working` working ones; IB's
snapshot lists today's `--today` finished orders (already stored, unchanged), their executions
(already stored) and the working orders. Reconciliation as it runs now (bulk reads, writes only
what changed) is timed beside the same snapshot applied report by report (one lookup per report,
as reconciliation used to), in the same run. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from ibkr_grpc.domain.broker_reports import BrokerExecution, BrokerOrderStatus, BrokerSnapshot
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderEventType, OrderStatus, OrderType, Side
from ibkr_grpc.domain.orders import Fill, Order, OrderTerms
from ibkr_grpc.services.order_commands import PendingCommands
from ibkr_grpc.services.order_reports import OrderReports
from ibkr_grpc.store.database import Database, normalise_url
from ibkr_grpc.store.migrate import upgrade
from ibkr_grpc.store.order_store import OrderStore
from ibkr_grpc.store.records import fill_columns, order_columns
from ibkr_grpc.store.tables import FillRow, OrderRow

EPOCH = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
CLIENT_ID = 11


def order(number: int, status: OrderStatus) -> Order:
    filled = Decimal(10) if status is OrderStatus.FILLED else Decimal(0)
    return Order(
        order_id=f"ord_{number:026d}",
        client_order_id=f"key-{number}",
        account="DU1234567",
        contract=ContractSpec(symbol="AAPL", con_id=265598),
        terms=OrderTerms(Side.BUY, Decimal(10), OrderType.LIMIT, limit_price=Decimal(100)),
        status=status,
        create_time=EPOCH + timedelta(seconds=number),
        update_time=EPOCH + timedelta(seconds=number),
        broker_order_id=number,
        perm_id=1_000_000 + number,
        filled_quantity=filled,
        average_fill_price=Decimal(100) if filled else None,
        broker_client_id=CLIENT_ID,
    )


def fill_for(stored: Order) -> Fill:
    return Fill(
        execution_id=f"exec.{stored.broker_order_id}",
        account=stored.account,
        contract=stored.contract,
        side=stored.terms.side,
        quantity=Decimal(10),
        price=Decimal(100),
        execution_time=stored.update_time,
        order_id=stored.order_id,
        broker_order_id=stored.broker_order_id,
        perm_id=stored.perm_id,
        cumulative_quantity=Decimal(10),
        average_price=Decimal(100),
        commission=Decimal("1.00"),
        commission_currency="USD",
    )


def status_of(stored: Order) -> BrokerOrderStatus:
    return BrokerOrderStatus(
        broker_order_id=stored.broker_order_id,
        perm_id=stored.perm_id,
        order_ref=stored.order_id,
        client_id=CLIENT_ID,
        status=stored.status,
        filled_quantity=stored.filled_quantity,
        remaining_quantity=stored.terms.quantity - stored.filled_quantity,
        average_fill_price=stored.average_fill_price,
    )


def execution_of(fill: Fill) -> BrokerExecution:
    return BrokerExecution(
        execution_id=fill.execution_id,
        broker_order_id=fill.broker_order_id,
        perm_id=fill.perm_id,
        order_ref=fill.order_id,
        client_id=CLIENT_ID,
        account=fill.account,
        contract=fill.contract,
        side=fill.side,
        quantity=fill.quantity,
        price=fill.price,
        cumulative_quantity=fill.cumulative_quantity,
        average_price=fill.average_price,
        exchange="ISLAND",
        execution_time=fill.execution_time,
        commission=fill.commission,
        commission_currency="USD",
    )


async def populate(database: Database, stored: int, working: int) -> tuple[list[Order], list[Fill]]:
    history = [order(n, OrderStatus.FILLED) for n in range(1, stored + 1)]
    open_orders = [order(stored + n, OrderStatus.SUBMITTED) for n in range(1, working + 1)]
    fills = [fill_for(o) for o in history]
    async with database.transaction() as session:
        rows = [order_columns(o) for o in (*history, *open_orders)]
        for start in range(0, len(rows), 5_000):
            await session.execute(insert(OrderRow), rows[start : start + 5_000])
        fill_rows = [fill_columns(f) for f in fills]
        for start in range(0, len(fill_rows), 5_000):
            await session.execute(insert(FillRow), fill_rows[start : start + 5_000])
    return history + open_orders, fills


async def per_report(applier: OrderReports, snapshot: BrokerSnapshot) -> None:
    """The snapshot applied report by report: one lookup (and a write when changed) each."""
    for execution in snapshot.executions:
        await applier.apply_execution(execution)
    for status in snapshot.orders:
        await applier.apply_status(status, OrderEventType.RECONCILED)


async def measure(database: Database, args: argparse.Namespace) -> tuple[float, float]:
    await upgrade(database)
    try:
        orders, fills = await populate(database, args.stored, args.working)
        today = orders[args.stored - args.today : args.stored] + orders[args.stored :]
        snapshot = BrokerSnapshot(
            orders=[status_of(o) for o in today],
            executions=[execution_of(f) for f in fills[args.stored - args.today :]],
        )
        store = OrderStore(database)
        applier = OrderReports(
            store,
            PendingCommands(),
            clock=lambda: datetime.now(UTC),
            client_id=lambda: CLIENT_ID,
            on_rejection=lambda: None,
        )
        started = time.perf_counter()
        await applier.reconcile(snapshot)
        bulk = time.perf_counter() - started
        started = time.perf_counter()
        await per_report(applier, replace(snapshot))
        one_by_one = time.perf_counter() - started
        return bulk, one_by_one
    finally:
        await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--today", type=int, default=1_000)
    parser.add_argument("--working", type=int, default=100)
    args = parser.parse_args()
    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        sqlite = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}")
        results.append(("SQLite", *await measure(sqlite, args)))
    base = normalise_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        postgresql = Database(base, connect_args={"server_settings": {"search_path": schema}})
        results.append(("PostgreSQL", *await measure(postgresql, args)))
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
    print(
        f"\nReconciliation after a reconnect: {args.stored:,} stored finished orders, "
        f"{args.working} working; IB lists {args.today:,} of today's orders and executions."
    )
    print("| database | reconcile now (bulk reads) | report by report (as before) |")
    print("|---|---|---|")
    for name, bulk, one_by_one in results:
        print(f"| {name} | {bulk * 1000:,.0f} ms | {one_by_one * 1000:,.0f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
