"""A fault run: the stack of fault_stack.py, traders and a consumer of fault_workload.py, faults
of every kind injected mid-burst in a seeded order, then the three ledgers compared
(fault_ledgers.py). The suite runs a few faults of each kind; bench/faults.py runs more."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ibkr.v1 import order_service_pb2 as pb
from ibkr_client import IbkrClient
from tests.support.fault_ledgers import (
    Comparison,
    compare,
    list_orders,
    read_broker,
    read_server,
)
from tests.support.fault_stack import FaultStack, fault_stack
from tests.support.fault_workload import SYMBOL, Consumer, Observations, Traders, following
from tests.support.waiting import eventually

# How long PostgreSQL and Redis stay down, and the gateway refuses connections, per fault:
# the length of the outage being simulated, not a wait for anything.
OUTAGE_SECONDS = 1.5
SETTLED = frozenset({
    pb.ORDER_STATUS_SUBMITTED, pb.ORDER_STATUS_FILLED, pb.ORDER_STATUS_CANCELLED,
    pb.ORDER_STATUS_REJECTED, pb.ORDER_STATUS_INACTIVE, pb.ORDER_STATUS_EXPIRED,
    pb.ORDER_STATUS_NOT_SENT,
})  # fmt: skip


async def _postgres_restart(stack: FaultStack) -> None:
    await stack.postgres.stop()
    await asyncio.sleep(OUTAGE_SECONDS)
    await stack.postgres.start()


async def _redis_restart(stack: FaultStack) -> None:
    await stack.redis.stop()
    await asyncio.sleep(OUTAGE_SECONDS)
    await stack.redis.start()


async def _gateway_drop(stack: FaultStack) -> None:
    await stack.simulator.control("drop-connections")


async def _gateway_restart(stack: FaultStack) -> None:
    await stack.simulator.control(f"refuse-connections {OUTAGE_SECONDS}")


async def _server_kill(stack: FaultStack) -> None:
    await stack.server.kill()
    await stack.server.start()


async def _server_terminate(stack: FaultStack) -> None:
    status = await stack.server.terminate()
    if status != 0:
        raise AssertionError(f"serve exited with {status} on SIGTERM; see {stack.server.log}")
    await stack.server.start()


FAULTS: dict[str, Callable[[FaultStack], Awaitable[None]]] = {
    "PostgreSQL restart": _postgres_restart,
    "Redis restart": _redis_restart,
    "gateway drops connections": _gateway_drop,
    "gateway restart (refuses connections)": _gateway_restart,
    "server kill -9": _server_kill,
    "server SIGTERM": _server_terminate,
}


@dataclass
class FaultRecord:
    kind: str
    injected: float  # monotonic, just before the fault
    cleared: float  # when the fault's own action ended (the process back, the port open)
    recovered: float  # the first PlaceOrder begun after `injected` that returned an order
    place_codes: Counter[str]
    stream_codes: Counter[str]

    @property
    def outage(self) -> float:
        return self.recovered - self.injected


@dataclass
class RunReport:
    faults: list[FaultRecord] = field(default_factory=list)
    comparison: Comparison = field(default_factory=Comparison)
    codes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    logs: Path | None = None


async def _inject(
    stack: FaultStack, kind: str, traders: Traders, consumer: Consumer
) -> FaultRecord:
    injected = time.monotonic()
    await FAULTS[kind](stack)
    cleared = time.monotonic()

    def recovered() -> float | None:
        return traders.observations.first_success(injected)

    await eventually(recovered, within=60, message=f"no order went through after {kind}")
    until = recovered()
    assert until is not None
    return FaultRecord(
        kind,
        injected,
        cleared,
        until,
        _codes_between(traders.observations, injected, until, begun_before=True),
        _codes_between(consumer.observations, injected, until, begun_before=True),
    )


def _codes_between(
    observations: Observations, start: float, end: float, *, begun_before: bool = False
) -> Counter[str]:
    """Failed answers that came between `start` and `end`, of calls begun after `start` (or,
    with `begun_before`, of any call: a call in flight when the fault began ends during it)."""
    return Counter(
        f"{answer.code} {answer.reason}".strip()
        for answer in observations.answers
        if (begun_before or answer.started >= start)
        and start <= answer.at <= end
        and answer.code != "OK"
    )


async def _quiet(client: IbkrClient, traders: Traders, consumer: Consumer) -> None:
    """Every order of the run settled at the server, and the consumer caught up with the log."""

    async def settled() -> bool:
        return all(order.status in SETTLED for order in await list_orders(client))

    async def caught_up() -> bool:
        # A heartbeat a second keeps the consumer's stream moving; compare with the log's end.
        stream = client.orders.StreamOrderEvents(pb.StreamOrderEventsRequest(replay_last=1))
        try:
            async for message in stream:
                if message.WhichOneof("payload") == "order_event":
                    return consumer.last == message.order_event.sequence
        finally:
            stream.cancel()
        return False

    await eventually(settled, within=60, message="orders still in flight after the run")
    await eventually(caught_up, within=30, message="the consumer never caught up with the log")


async def run_faults(
    *, count: int, seed: int, workers: int = 3, logs: Path | None = None
) -> RunReport:
    """`count` faults of each kind, in an order drawn from `seed`, with `workers` traders
    placing orders throughout."""
    chooser = random.Random(seed)  # noqa: S311  a reproducible order, not a secret
    plan = [kind for kind in FAULTS for _ in range(count)]
    chooser.shuffle(plan)
    report = RunReport(logs=logs)
    began = time.monotonic()
    async with fault_stack(logs) as stack, stack.client() as client, stack.client() as reader:
        quote = await stack.simulator.control(f"quote {SYMBOL}")
        bid = Decimal(quote.split("bid=")[1].split()[0])
        traders = Traders(client, f"faults-{seed}", f"{bid / 2:.2f}")
        consumer = Consumer(reader)
        async with following(consumer):
            tasks = [asyncio.create_task(traders.work()) for _ in range(workers)]
            try:
                await eventually(lambda: traders.observations.successes(began) >= 5, within=30)
                for kind in plan:
                    report.faults.append(await _inject(stack, kind, traders, consumer))
                    # Orders flow for a while (a seeded number of them) before the next fault.
                    resumed, flowing = time.monotonic(), chooser.randint(2, 6)
                    await eventually(
                        lambda: traders.observations.successes(resumed) >= flowing,  # noqa: B023
                        within=30,
                        message="orders did not flow again",
                    )
            finally:
                traders.stop()
                await _finish(tasks)
            await traders.settle(within=60)
            await _quiet(client, traders, consumer)
            server = await read_server(client)
        report.codes = traders.observations.codes() + consumer.observations.codes()
        await stack.server.stop()
        broker = await read_broker(stack.simulator.port)
    report.comparison = compare(traders.keys, consumer, server, broker, report.codes)
    report.seconds = time.monotonic() - began
    return report


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    """Let each trader finish its current order (bounded), then cancel what is left."""
    _, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def format_report(report: RunReport) -> str:
    result = report.comparison
    lines = [
        (
            f"{len(report.faults)} faults in {report.seconds:.0f} s; {result.keys} "
            f"client_order_ids, {result.attempts} PlaceOrder calls, {result.acknowledged} "
            f"acknowledged, {result.given_up} given up, {result.not_sent_attempts} NOT_SENT "
            "attempts"
        ),
        (
            f"IB: {result.orders_at_ib} orders, {result.fills_at_ib} executions, position "
            f"{result.position_ib}"
        ),
        (
            f"lost {result.acknowledged_and_lost}, refused yet placed {result.refused_but_placed}, "
            f"duplicated {result.duplicated}, unknown to "
            f"the server {result.unknown_to_server}, fills missing {result.fills_missing} / "
            f"duplicated {result.fills_duplicated} / extra {result.fills_extra}, position "
            f"mismatch {result.position_mismatch}"
        ),
        (
            f"events seen {result.events_seen}, sequence gaps {result.sequence_gaps}, "
            f"duplicates {result.sequence_duplicates}, stream resumptions "
            f"{result.consumer_resumptions}, INTERNAL or UNKNOWN {result.internal_or_unknown}"
        ),
        f"every answer: {dict(report.codes.most_common())}",
        "",
        "| fault | count | outage p50 s | outage max s | PlaceOrder saw | StreamOrderEvents saw |",
        "|---|---:|---:|---:|---|---|",
    ]
    for kind in FAULTS:
        records = [record for record in report.faults if record.kind == kind]
        if not records:
            continue
        outages = [record.outage for record in records]
        place = sum((record.place_codes for record in records), Counter[str]())
        stream = sum((record.stream_codes for record in records), Counter[str]())
        lines.append(
            f"| {kind} | {len(records)} | {statistics.median(outages):.1f} | "
            f"{max(outages):.1f} | {_counts(place)} | {_counts(stream)} |"
        )
    lines.extend(f"problem: {text}" for text in report.comparison.problems)
    if report.logs is not None:
        lines.append(f"logs: {report.logs}")
    return "\n".join(lines)


def _counts(codes: Counter[str]) -> str:
    return ", ".join(f"{code} x{count}" for code, count in codes.most_common()) or "nothing"
