"""What clients do while faults happen: traders placing orders by the README's retry rule (the
same client_order_id and request again on UNAVAILABLE, DEADLINE_EXCEEDED or a CANCELLED they
did not ask for, until an order comes back), and a consumer following StreamOrderEvents,
resuming with after_sequence. Every answer is recorded with its time, so each fault's codes and
duration can be told afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import grpc.aio

from ibkr.v1 import common_pb2
from ibkr.v1 import order_service_pb2 as pb
from ibkr_client import ApiError, IbkrClient
from tests.support.fault_stack import ACCOUNT

SYMBOL = "AAPL"
# The README's retry rule: UNAVAILABLE, DEADLINE_EXCEEDED, or a CANCELLED the client did not ask
# for (a server stopping mid-call cancels the calls it has not answered; these clients never
# cancel a PlaceOrder themselves, and a cancelled aio call raises CancelledError, not this).
RETRIED = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
})  # fmt: skip
# Statuses IB has answered with; anything else (PENDING_SUBMIT, NOT_SENT) is not yet an order
# at IB, and the client keeps calling until it is.
ACKNOWLEDGED = frozenset({
    pb.ORDER_STATUS_SUBMITTED, pb.ORDER_STATUS_PARTIALLY_FILLED, pb.ORDER_STATUS_FILLED,
    pb.ORDER_STATUS_PENDING_CANCEL, pb.ORDER_STATUS_CANCELLED, pb.ORDER_STATUS_INACTIVE,
    pb.ORDER_STATUS_EXPIRED,
})  # fmt: skip
CALL_TIMEOUT = 5.0


@dataclass(frozen=True)
class Answer:
    started: float  # time.monotonic() when the call began
    at: float  # and when its answer came
    call: str
    code: str  # a grpc.StatusCode name, OK included
    reason: str = ""


@dataclass
class KeyRecord:
    """The client's ledger entry for one client_order_id."""

    request: pb.PlaceOrderRequest
    order_id: str = ""
    status: int = pb.ORDER_STATUS_UNSPECIFIED
    attempts: int = 0
    refused: str = ""  # a code the retry rule does not retry; the key is given up

    @property
    def acknowledged(self) -> bool:
        return self.status in ACKNOWLEDGED


@dataclass
class Observations:
    answers: list[Answer] = field(default_factory=list)

    def record(self, call: str, started: float, code: grpc.StatusCode, reason: str = "") -> None:
        self.answers.append(Answer(started, time.monotonic(), call, code.name, reason))

    def successes(self, started_after: float) -> int:
        """PlaceOrder calls begun at or after `started_after` that returned an order."""
        return sum(
            answer.started >= started_after and answer.code == "OK" for answer in self.answers
        )

    def first_success(self, started_after: float) -> float | None:
        """When the first PlaceOrder begun at or after `started_after` returned an order."""
        return min(
            (a.at for a in self.answers if a.started >= started_after and a.code == "OK"),
            default=None,
        )

    def codes(self) -> Counter[str]:
        return Counter(answer.code for answer in self.answers)


def order_request(key: str, number: int, resting_price: str) -> pb.PlaceOrderRequest:
    """Mostly one-share market orders, buys and sells in turn (fills, a position that stays
    small); every fifth a buy far below the market that rests (an open order at the end)."""
    request = pb.PlaceOrderRequest(
        account=ACCOUNT,
        contract=common_pb2.Contract(symbol=SYMBOL),
        quantity="1",
        client_order_id=key,
        side=common_pb2.SIDE_BUY if number % 2 == 0 else common_pb2.SIDE_SELL,
        order_type=pb.ORDER_TYPE_MARKET,
    )
    if number % 5 == 4:
        request.side = common_pb2.SIDE_BUY
        request.order_type = pb.ORDER_TYPE_LIMIT
        request.limit_price = resting_price
    return request


class Traders:
    """`workers` callers, each placing one order after another until stopped."""

    def __init__(self, client: IbkrClient, run: str, resting_price: str) -> None:
        self.client = client
        self.run = run
        self.resting_price = resting_price
        self.keys: dict[str, KeyRecord] = {}
        self.observations = Observations()
        self._stopping = asyncio.Event()
        self._numbers = iter(range(1_000_000))

    async def work(self) -> None:
        while not self._stopping.is_set():
            number = next(self._numbers)
            key = f"{self.run}-{number}"
            self.keys[key] = KeyRecord(order_request(key, number, self.resting_price))
            await self.place(key, give_up_at=float("inf"))

    def stop(self) -> None:
        self._stopping.set()

    async def place(self, key: str, *, give_up_at: float) -> None:
        """PlaceOrder with the key's request until IB has acknowledged the order, an answer the
        retry rule does not retry comes back, or `give_up_at` (monotonic) passes."""
        record = self.keys[key]
        while not record.acknowledged and not record.refused and time.monotonic() < give_up_at:
            record.attempts += 1
            started = time.monotonic()
            try:
                response = await self.client.orders.PlaceOrder(record.request, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as raised:
                error = ApiError.from_rpc_error(raised)
                self.observations.record("PlaceOrder", started, error.code, error.reason)
                if error.code not in RETRIED:
                    record.refused = f"{error.code.name} {error.reason}: {error.message}"
                    return
                delay = error.retry_delay.total_seconds() if error.retry_delay else 0.2
                await asyncio.sleep(min(max(delay, 0.05), 1.0))  # the client's retry backoff
                continue
            self.observations.record("PlaceOrder", started, grpc.StatusCode.OK)
            record.order_id, record.status = response.order.order_id, response.order.status
            if not record.acknowledged:
                # In flight (PENDING_SUBMIT): call again, as the retry rule says, until IB's
                # answer (or reconciliation's NOT_SENT, which the next call sends again).
                await asyncio.sleep(0.5)

    async def settle(self, *, within: float) -> None:
        """After the burst: every key not yet acknowledged is called again until it is."""
        give_up_at = time.monotonic() + within
        waiting = [key for key, record in self.keys.items() if not record.acknowledged]
        await asyncio.gather(*(self.place(key, give_up_at=give_up_at) for key in waiting))


@dataclass
class Consumer:
    """Follows StreamOrderEvents from the first event, resuming after the last sequence it
    processed whenever the stream ends."""

    client: IbkrClient
    sequences: list[int] = field(default_factory=list)
    fills: list[str] = field(default_factory=list)  # execution ids of FILL events, in order
    observations: Observations = field(default_factory=Observations)
    resumptions: int = 0

    @property
    def last(self) -> int:
        return self.sequences[-1] if self.sequences else 0

    async def follow(self) -> None:
        while True:
            if self.last:
                request = pb.StreamOrderEventsRequest(after_sequence=self.last)
            else:
                request = pb.StreamOrderEventsRequest(replay_from_start=True)
            request.heartbeat_interval.FromSeconds(1)
            started = time.monotonic()
            try:
                async for message in self.client.orders.StreamOrderEvents(request):
                    if message.WhichOneof("payload") == "order_event":
                        event = message.order_event
                        self.sequences.append(event.sequence)
                        if event.type == pb.ORDER_EVENT_TYPE_FILL:
                            self.fills.append(event.fill.execution_id)
            except grpc.aio.AioRpcError as raised:
                error = ApiError.from_rpc_error(raised)
                self.observations.record("StreamOrderEvents", started, error.code, error.reason)
            self.resumptions += 1
            await asyncio.sleep(0.2)  # the client's reconnect backoff


@contextlib.asynccontextmanager
async def following(consumer: Consumer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(consumer.follow())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
