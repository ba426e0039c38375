"""The three ledgers of a fault run and their comparison: the client's (the keys it got an order
for), the server's (ListOrders, ListFills, ListPositions and the event log) and IB's (the
simulated gateway's open and completed orders, executions and positions, read by an ib_async
client on the server's master client id once the server has stopped)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ib_async import IB

from ibkr.v1 import common_pb2, portfolio_service_pb2
from ibkr.v1 import order_service_pb2 as pb
from ibkr_client import IbkrClient
from tests.support.fault_stack import ACCOUNT, SERVER_CLIENT_ID
from tests.support.fault_workload import SYMBOL, Consumer, KeyRecord


@dataclass
class ServerLedger:
    orders: list[pb.Order]
    fills: list[pb.Fill]
    position: Decimal
    sequences: list[int]
    event_fills: list[str]  # execution ids of the log's FILL events


@dataclass
class BrokerLedger:
    orders: dict[int, tuple[str, str]]  # permId: (orderRef, status)
    executions: list[tuple[str, str, Decimal]]  # (execId, orderRef, signed shares)
    position: Decimal


async def list_orders(client: IbkrClient) -> list[pb.Order]:
    orders: list[pb.Order] = []
    token = ""
    while True:
        page = await client.orders.ListOrders(pb.ListOrdersRequest(page_size=500, page_token=token))
        orders.extend(page.orders)
        if not (token := page.next_page_token):
            return orders


async def read_server(client: IbkrClient) -> ServerLedger:
    orders = await list_orders(client)
    fills: list[pb.Fill] = []
    token = ""
    while True:
        fill_page = await client.orders.ListFills(
            pb.ListFillsRequest(page_size=500, page_token=token)
        )
        fills.extend(fill_page.fills)
        if not (token := fill_page.next_page_token):
            break
    positions = await client.portfolio.ListPositions(
        portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT, symbol=SYMBOL)
    )
    position = sum((Decimal(p.quantity) for p in positions.positions), Decimal(0))
    sequences, event_fills = await replay(client)
    return ServerLedger(orders, fills, position, sequences, event_fills)


async def replay(client: IbkrClient) -> tuple[list[int], list[str]]:
    """The whole event log, from the first event to REPLAY_COMPLETE."""
    sequences: list[int] = []
    event_fills: list[str] = []
    stream = client.orders.StreamOrderEvents(pb.StreamOrderEventsRequest(replay_from_start=True))
    async for message in stream:
        if message.WhichOneof("payload") == "order_event":
            sequences.append(message.order_event.sequence)
            if message.order_event.type == pb.ORDER_EVENT_TYPE_FILL:
                event_fills.append(message.order_event.fill.execution_id)
        elif message.marker.type == common_pb2.STREAM_MARKER_TYPE_REPLAY_COMPLETE:
            break
    stream.cancel()
    return sequences, event_fills


async def read_broker(port: int) -> BrokerLedger:
    """IB's own records, as the master API client sees them: every client's orders and every
    execution. The server must have disconnected: this connection takes its client id."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=SERVER_CLIENT_ID, timeout=20)
    try:
        trades = [
            *await ib.reqAllOpenOrdersAsync(),
            *await ib.reqCompletedOrdersAsync(apiOnly=True),
        ]
        orders = {
            trade.order.permId: (trade.order.orderRef, trade.orderStatus.status) for trade in trades
        }
        executions = [
            (
                fill.execution.execId,
                fill.execution.orderRef,
                Decimal(str(fill.execution.shares)) * (1 if fill.execution.side == "BOT" else -1),
            )
            for fill in await ib.reqExecutionsAsync()
        ]
        position = sum(
            (
                Decimal(str(held.position))
                for held in await ib.reqPositionsAsync()
                if held.account == ACCOUNT and held.contract.symbol == SYMBOL
            ),
            Decimal(0),
        )
    finally:
        ib.disconnect()
    return BrokerLedger(orders, executions, position)


@dataclass
class Comparison:
    """Every figure the run reports; `problems` lists each discrepancy found."""

    keys: int = 0
    acknowledged: int = 0
    given_up: int = 0
    attempts: int = 0
    not_sent_attempts: int = 0
    orders_at_ib: int = 0
    acknowledged_and_lost: int = 0
    refused_but_placed: int = 0  # the client was told it failed (no retry), yet IB has it
    duplicated: int = 0
    unknown_to_server: int = 0
    fills_at_ib: int = 0
    fills_missing: int = 0
    fills_duplicated: int = 0
    fills_extra: int = 0
    position_ib: Decimal = Decimal(0)
    position_mismatch: int = 0
    events_seen: int = 0
    sequence_gaps: int = 0
    sequence_duplicates: int = 0
    consumer_resumptions: int = 0
    internal_or_unknown: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


def compare(
    keys: dict[str, KeyRecord],
    consumer: Consumer,
    server: ServerLedger,
    broker: BrokerLedger,
    codes: Counter[str],
) -> Comparison:
    result = Comparison(keys=len(keys), consumer_resumptions=consumer.resumptions)
    result.internal_or_unknown = codes["INTERNAL"] + codes["UNKNOWN"]
    if result.internal_or_unknown:
        result.problem(f"INTERNAL or UNKNOWN answers: {dict(codes)}")
    _compare_orders(result, keys, server, broker)
    _compare_fills(result, server, broker)
    _compare_sequences(result, consumer, server)
    return result


def _compare_orders(
    result: Comparison, keys: dict[str, KeyRecord], server: ServerLedger, broker: BrokerLedger
) -> None:
    by_key: dict[str, list[pb.Order]] = defaultdict(list)
    for order in server.orders:
        by_key[order.client_order_id].append(order)
    at_ib: dict[str, list[int]] = defaultdict(list)
    for perm_id, (reference, _) in broker.orders.items():
        at_ib[reference].append(perm_id)
    known = {order.order_id for order in server.orders}
    result.orders_at_ib = len(broker.orders)
    result.unknown_to_server = sum(len(at_ib[ref]) for ref in at_ib if ref not in known)
    if result.unknown_to_server:
        result.problem(f"orders at IB the server does not know: {set(at_ib) - known}")
    for key, record in keys.items():
        result.attempts += record.attempts
        result.acknowledged += record.acknowledged
        if record.refused or not record.acknowledged:
            result.given_up += 1
            result.problem(f"{key}: never acknowledged ({record.refused or 'retries ran out'})")
        stored = by_key.get(key, [])
        result.not_sent_attempts += sum(o.status == pb.ORDER_STATUS_NOT_SENT for o in stored)
        live = [o for o in stored if o.status != pb.ORDER_STATUS_NOT_SENT]
        perm_ids = [perm for order in stored for perm in at_ib.get(order.order_id, [])]
        if len(live) > 1 or len(perm_ids) > 1:
            result.duplicated += 1
            result.problem(f"{key}: {len(live)} live orders at the server, {len(perm_ids)} at IB")
        if record.refused and perm_ids:
            result.refused_but_placed += 1
            result.problem(f"{key}: answered {record.refused!r}, yet IB has the order")
        if record.acknowledged and not perm_ids:
            result.acknowledged_and_lost += 1
            result.problem(f"{key}: acknowledged as {record.order_id} but IB has no order")
        if record.acknowledged and record.order_id not in {o.order_id for o in live}:
            result.acknowledged_and_lost += 1
            result.problem(f"{key}: the server's live order is not {record.order_id}")


def _compare_fills(result: Comparison, server: ServerLedger, broker: BrokerLedger) -> None:
    at_ib = {execution_id for execution_id, _, _ in broker.executions}
    stored = [fill.execution_id for fill in server.fills]
    result.fills_at_ib = len(broker.executions)
    result.fills_missing = len(at_ib - set(stored))
    result.fills_extra = len(set(stored) - at_ib)
    result.fills_duplicated = (len(stored) - len(set(stored))) + (
        len(server.event_fills) - len(set(server.event_fills))
    )
    if set(server.event_fills) != set(stored):
        result.fills_missing += len(set(stored) - set(server.event_fills))
        result.problem("the event log's FILL events and ListFills differ")
    statuses = {order.order_id: pb.OrderStatus.Name(order.status) for order in server.orders}
    for execution_id, reference, shares in broker.executions:
        if execution_id not in stored:
            result.problem(
                f"IB's execution {execution_id} ({shares} of {reference}, "
                f"{statuses.get(reference, 'unknown')} at the server) is not a fill"
            )
    if result.fills_missing or result.fills_extra or result.fills_duplicated:
        result.problem(
            f"fills: {result.fills_missing} missing, {result.fills_extra} not at IB, "
            f"{result.fills_duplicated} duplicated"
        )
    result.position_ib = broker.position
    executed = sum((shares for _, _, shares in broker.executions), Decimal(0))
    if server.position != broker.position or executed != broker.position:
        result.position_mismatch = 1
        result.problem(
            f"position: server {server.position}, IB {broker.position}, IB's executions {executed}"
        )


def _compare_sequences(result: Comparison, consumer: Consumer, server: ServerLedger) -> None:
    seen = consumer.sequences
    result.events_seen = len(seen)
    previous = 0
    for sequence in seen:
        if sequence <= previous:
            result.sequence_duplicates += 1
        elif sequence != previous + 1:
            result.sequence_gaps += 1
            result.problem(f"the consumer saw {sequence} after {previous}")
        previous = max(previous, sequence)
    if server.sequences != list(range(1, len(server.sequences) + 1)):
        result.sequence_gaps += 1
        result.problem("the stored event log is not 1, 2, 3, ...")
    if seen != server.sequences:
        result.problem(
            f"the consumer saw {len(seen)} events up to {consumer.last}; "
            f"the log has {len(server.sequences)}"
        )
        result.sequence_gaps += max(0, len(server.sequences) - len(set(seen)))
    if consumer.fills != server.event_fills:
        result.problem("the consumer's FILL events differ from the log's")
