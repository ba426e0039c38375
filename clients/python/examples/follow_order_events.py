"""Follow the order-event log, surviving server restarts, and remember where you were.

Run it against the demo (`make demo`) or any ibkr-grpc server, then restart the server while it
runs: it reconnects by itself and carries on with the next event, none missed or repeated.

    .venv/bin/python clients/python/examples/follow_order_events.py \\
        --target 127.0.0.1:50051 --token "$TOKEN" --state-file var/last-sequence

The sequence of the last event printed is written to --state-file after each event, so the next
run resumes after it; without one (or on a first run) the whole log is replayed first. Each line
is "sequence type order_id status"; markers print as "-- MARKER". --count stops after that many
events. Exit status 1 on a failure a reconnect cannot cure (a bad token, say), 2 on a gap.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from ibkr.v1 import common_pb2, order_service_pb2
from ibkr_client import (
    DEFAULT_TARGET,
    ApiError,
    IbkrClient,
    OrderEventSequenceError,
    Reconnect,
    ReconnectOptions,
)


def describe(event: order_service_pb2.OrderEvent) -> str:
    kind = order_service_pb2.OrderEventType.Name(event.type).removeprefix("ORDER_EVENT_TYPE_")
    status = order_service_pb2.OrderStatus.Name(event.order.status).removeprefix("ORDER_STATUS_")
    return f"{event.sequence} {kind} {event.order.order_id} {status}"


def report_reconnect(reconnect: Reconnect) -> None:
    reason = reconnect.error or "the server ended the stream"
    seconds = reconnect.delay.total_seconds()
    print(f"-- reconnecting in {seconds:.1f} s: {reason}", file=sys.stderr)


def saved_sequence(state_file: Path | None) -> int:
    if state_file is None or not state_file.exists():
        return 0
    return int(state_file.read_text(encoding="utf-8").strip() or 0)


def save_sequence(state_file: Path, sequence: int) -> None:
    state_file.write_text(f"{sequence}\n", encoding="utf-8")


async def follow(target: str, token: str | None, state_file: Path | None, count: int) -> None:
    after_sequence = saved_sequence(state_file)
    options = ReconnectOptions(on_reconnect=report_reconnect)
    printed = 0
    async with (
        IbkrClient.connect(target, token=token) as client,
        client.follow_order_events(
            after_sequence, replay_from_start=after_sequence == 0, reconnect=options
        ) as events,
    ):
        async for item in events:
            if isinstance(item, common_pb2.StreamMarker):
                name = common_pb2.StreamMarkerType.Name(item.type)
                print(f"-- {name.removeprefix('STREAM_MARKER_TYPE_')}", flush=True)
                continue
            print(describe(item), flush=True)
            if state_file is not None:
                # Written after the event is handled: a crash in between replays it once more.
                await asyncio.to_thread(save_sequence, state_file, item.sequence)
            printed += 1
            if printed == count:
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", default=os.environ.get("IBKR_GRPC_TARGET", DEFAULT_TARGET))
    parser.add_argument("--token", default=os.environ.get("IBKR_GRPC_TOKEN"))
    parser.add_argument("--state-file", type=Path, help="where the last sequence is kept")
    parser.add_argument("--count", type=int, default=0, help="stop after this many events")
    arguments = parser.parse_args()
    try:
        asyncio.run(
            follow(arguments.target, arguments.token, arguments.state_file, arguments.count)
        )
    except ApiError as error:
        print(f"failed: {error}", file=sys.stderr)
        return 1
    except OrderEventSequenceError as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
