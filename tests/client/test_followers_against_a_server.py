"""The stream followers against a real server that stops and starts again mid-stream, on the
same port and database, in front of the simulated gateway."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from ibkr.v1 import common_pb2, gateway_service_pb2, market_data_service_pb2, order_service_pb2
from ibkr_client import IbkrClient, Reconnect, ReconnectOptions, RetryPolicy
from ibkr_grpc.app import Application
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.store.database import Database
from ibkr_grpc.store.migrate import upgrade
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, mint, server_settings, simulator_config
from tests.support.waiting import eventually

AAPL = common_pb2.Contract(symbol="AAPL", security_type=common_pb2.SECURITY_TYPE_STOCK)
# gRPC's own reconnect backoff grows to two minutes; short, so a restarted server is found fast.
FAST_CHANNEL = (("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 500))
QUICK_RETRIES = RetryPolicy(
    initial_delay=timedelta(milliseconds=50), maximum_delay=timedelta(milliseconds=500)
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Servers:
    """Starts the application on one port and database, again and again."""

    def __init__(self, simulator: Simulator, database_url: str) -> None:
        self.simulator = simulator
        self.database_url = database_url
        self.port = free_port()
        self.running: Application | None = None

    async def start(self) -> None:
        settings = server_settings(self.simulator, self.database_url).model_copy(
            update={"grpc_listen": f"127.0.0.1:{self.port}"}
        )
        self.running = Application(settings, database=Database(self.database_url))
        await self.running.start()
        async with self.client() as client:

            async def ready() -> bool:
                # A follower's channel may have the port in its connect backoff, and grpc-core
                # shares that state with this channel: refused until it tries again.
                with contextlib.suppress(grpc.aio.AioRpcError):
                    status = await client.gateway.GetGatewayStatus(
                        gateway_service_pb2.GetGatewayStatusRequest()
                    )
                    return status.status.state == gateway_service_pb2.CONNECTION_STATE_READY
                return False

            await eventually(ready, within=15, message="the restarted server never became ready")

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop(grace=1)
            self.running = None

    def client(self) -> IbkrClient:
        return IbkrClient.connect(
            f"127.0.0.1:{self.port}",
            token=mint(Role.ADMIN, "follower-test"),
            channel_options=FAST_CHANNEL,
        )


@asynccontextmanager
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.sqlite3'}"
    schema = Database(url)
    await upgrade(schema)
    await schema.dispose()
    async with Simulator(simulator_config()) as simulator:
        running = Servers(simulator, url)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


def limit_buy(key: str) -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=AAPL,
        side=common_pb2.SIDE_BUY,
        quantity="5",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price="20",
        time_in_force=order_service_pb2.TIME_IN_FORCE_GTC,
        client_order_id=key,
    )


async def whole_log(client: IbkrClient) -> list[int]:
    """Every stored event's sequence, read by a plain stream up to its REPLAY_COMPLETE."""
    sequences: list[int] = []
    call = client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(replay_from_start=True)
    )
    async for message in call:
        if message.WhichOneof("payload") == "marker":
            break
        sequences.append(message.order_event.sequence)
    call.cancel()
    return sequences


class Gate:
    """The followers' backoff sleep, held shut until the test opens it: the test decides what
    happens while a follower is away."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.open = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waiting.set()
        await self.open.wait()


@pytest.mark.slow
async def test_order_events_continue_across_a_restart_with_no_gap_and_no_repeat(
    tmp_path: Path,
) -> None:
    async with servers(tmp_path) as running, running.client() as client:
        async with running.client() as trader:
            await trader.orders.PlaceOrder(limit_buy("before-1"))
        gate = Gate()
        reconnects: list[Reconnect] = []
        options = ReconnectOptions(policy=QUICK_RETRIES, sleep=gate, on_reconnect=reconnects.append)
        seen: list[int] = []
        follower = client.follow_order_events(
            replay_from_start=True, heartbeat_interval=timedelta(seconds=1), reconnect=options
        )

        async def follow() -> None:
            async for item in follower:
                if isinstance(item, order_service_pb2.OrderEvent):
                    seen.append(item.sequence)  # noqa: PERF401  read while the stream is open

        following = asyncio.create_task(follow())

        def seen_at_least(count: int) -> Callable[[], bool]:
            def check() -> bool:
                if following.done():
                    following.result()  # a follower that failed fails the test with its error
                return len(seen) >= count

            return check

        try:
            async with running.client() as trader:
                await trader.orders.PlaceOrder(limit_buy("before-2"))
                # Two orders, each CREATED then SENT at least.
                await eventually(seen_at_least(4), message="too few events before the stop")
            # A graceful stop ends the stream UNAVAILABLE (SERVICE_UNAVAILABLE); the follower
            # then waits at the gate while orders are placed on the restarted server.
            await running.stop()
            await asyncio.wait_for(gate.waiting.wait(), timeout=10)
            before_restart = len(seen)
            await running.start()
            async with running.client() as trader:
                await trader.orders.PlaceOrder(limit_buy("while-away-1"))
                await trader.orders.PlaceOrder(limit_buy("while-away-2"))
                stored = await whole_log(trader)
            assert len(stored) > before_restart
            gate.open.set()
            await eventually(seen_at_least(len(stored)), message="the missed events never came")
            async with running.client() as trader:
                await trader.orders.PlaceOrder(limit_buy("after-resume"))
                await eventually(seen_at_least(len(stored) + 1), message="no live event")
                stored = await whole_log(trader)
            await eventually(seen_at_least(len(stored)))
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await follower.aclose()
    assert seen == stored == list(range(1, len(stored) + 1))
    assert reconnects
    first_error = reconnects[0].error
    assert first_error is not None
    assert first_error.code == grpc.StatusCode.UNAVAILABLE
    assert follower.last_sequence == stored[-1]


@pytest.mark.slow
async def test_quotes_resubscribe_after_a_restart(tmp_path: Path) -> None:
    async with servers(tmp_path) as running, running.client() as client:
        options = ReconnectOptions(policy=QUICK_RETRIES)
        quotes: list[market_data_service_pb2.Quote] = []
        follower = client.follow_quotes(
            [AAPL],
            max_quotes_per_message=10,
            heartbeat_interval=timedelta(seconds=1),
            reconnect=options,
        )

        async def follow() -> None:
            async for item in follower:
                if isinstance(item, market_data_service_pb2.Quote):
                    quotes.append(item)  # noqa: PERF401  read while the stream is open

        following = asyncio.create_task(follow())
        try:
            await eventually(lambda: quotes, message="no quote before the restart")
            await running.stop()
            before_restart = len(quotes)
            await running.start()
            # The reopened stream starts with the contract's latest quote, then follows ticks.
            await eventually(
                lambda: len(quotes) > before_restart, message="no quote after the restart"
            )
            after_resubscribe = len(quotes)
            await running.simulator.step()
            await eventually(lambda: len(quotes) > after_resubscribe, message="no live tick")
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await follower.aclose()
    assert follower.reconnects >= 1
    assert {quote.contract.symbol for quote in quotes} == {"AAPL"}
