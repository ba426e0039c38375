"""The place-and-follow programs of the Go and Node clients, run as a user runs them against a
real server, and the checks both must pass.

Each program places a limit order under a client_order_id, reads the order-event log, drops that
stream itself, cancels the order while no stream is open, resumes with after_sequence and stops
once the order is CANCELLED. It prints one JSON object per step (placed, event, marker, dropped,
cancel_requested, resumed, done); a failed call prints "failed: CODE REASON: ..." on stderr and
exits with 1.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from ibkr.v1 import order_service_pb2
from ibkr_client import IbkrClient
from tests.client.live_server import limit_buy, servers
from tests.server.conftest import ACCOUNT

__all__ = ["ACCOUNT", "Run", "check_the_run", "limit_buy", "run_program", "servers", "whole_log"]


@dataclass(frozen=True)
class Run:
    code: int | None
    records: list[dict[str, Any]]
    errors: str


async def run_program(command: list[str], *, within: float = 60) -> Run:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(within):
            output, errors = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    records = [json.loads(line) for line in output.decode().splitlines() if line.strip()]
    return Run(process.returncode, records, errors.decode())


async def whole_log(client: IbkrClient) -> list[order_service_pb2.OrderEvent]:
    """Every stored event, read by a plain stream up to its REPLAY_COMPLETE marker."""
    events: list[order_service_pb2.OrderEvent] = []
    call = client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(replay_from_start=True)
    )
    async for message in call:
        if message.WhichOneof("payload") == "marker":
            break
        events.append(message.order_event)
    call.cancel()
    return events


def steps(run: Run, step: str, stream: int | None = None) -> list[dict[str, Any]]:
    return [
        record
        for record in run.records
        if record["step"] == step and (stream is None or record.get("stream") == stream)
    ]


async def check_the_run(run: Run, client_order_id: str, trader: IbkrClient) -> None:
    """The program placed the order, and its two streams together read the server's log from
    the first event to the order's cancellation: every event once, in order, none missed while
    no stream was open."""
    assert run.code == 0, run.errors
    placed = run.records[0]
    assert placed["step"] == "placed"
    assert placed["client_order_id"] == client_order_id
    order = await trader.orders.GetOrder(
        order_service_pb2.GetOrderRequest(order_id=placed["order_id"])
    )
    assert order.order.client_order_id == client_order_id
    assert order.order.status == order_service_pb2.ORDER_STATUS_CANCELLED

    first = [record["sequence"] for record in steps(run, "event", 1)]
    [dropped] = steps(run, "dropped", 1)
    [resumed] = steps(run, "resumed", 2)
    second = steps(run, "event", 2)
    [done] = steps(run, "done")
    assert dropped["sequence"] == first[-1] == resumed["sequence"]
    assert steps(run, "marker", 1)[-1]["marker"] == "STREAM_MARKER_TYPE_REPLAY_COMPLETE"
    # What happened while no stream was open came back replayed on the second one.
    ours = [record for record in second if record["order_id"] == placed["order_id"]]
    assert "ORDER_EVENT_TYPE_CANCEL_REQUESTED" in [record["event_type"] for record in ours]
    assert ours[-1]["status"] == "ORDER_STATUS_CANCELLED"
    assert done["sequence"] == second[-1]["sequence"]

    log = [event.sequence for event in await whole_log(trader)]
    read = first + [record["sequence"] for record in second]
    assert read == [sequence for sequence in log if sequence <= done["sequence"]]
