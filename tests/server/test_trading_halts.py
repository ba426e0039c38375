"""Per-account halts and admins scoped to accounts, on a real server in front of a simulated
gateway that manages two accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import grpc
import grpc.aio
import pytest

from ibkr.v1 import common_pb2, order_service_pb2, risk_service_pb2
from ibkr_client import ApiError, IbkrClient
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from ibkr_simulator.config import SimulatorConfig
from tests.server.conftest import ACCOUNT, RunningServer, running_server
from tests.support.databases import migrated_database
from tests.support.market_hours import TRADING_MORNING

OTHER = "DU7654321"
MINE = frozenset({ACCOUNT})


@pytest.fixture
async def two_accounts(tmp_path: Path) -> AsyncIterator[RunningServer]:
    config = SimulatorConfig(
        start_time=TRADING_MORNING,
        port=0,
        seed=7,
        tick_rate=0,
        accounts=(ACCOUNT, OTHER),
        account_update_interval=0.2,
    )
    async with (
        Simulator(config) as simulator,
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        simulator.freeze_price("AAPL")
        simulator.set_price("AAPL", 100.0)
        yield server


def resting_order(account: str, key: str) -> order_service_pb2.PlaceOrderRequest:
    return order_service_pb2.PlaceOrderRequest(
        account=account,
        contract=common_pb2.Contract(symbol="AAPL"),
        side=common_pb2.SIDE_BUY,
        quantity="1",
        order_type=order_service_pb2.ORDER_TYPE_LIMIT,
        limit_price="90",
        client_order_id=key,
    )


async def place(client: IbkrClient, account: str, key: str) -> str:
    return (await client.orders.PlaceOrder(resting_order(account, key))).order.order_id


async def refusal(call: Awaitable[object]) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return ApiError.from_rpc_error(raised.value)


async def status_of(server: RunningServer, order_id: str) -> int:
    request = order_service_pb2.GetOrderRequest(order_id=order_id)
    return (await server.client.orders.GetOrder(request)).order.status


async def state_of(server: RunningServer, account: str = "") -> risk_service_pb2.TradingState:
    request = risk_service_pb2.GetTradingStateRequest(account=account)
    return (await server.client.risk.GetTradingState(request)).state


async def test_a_scoped_admin_halts_and_cancels_only_its_account(
    two_accounts: RunningServer,
) -> None:
    server = two_accounts
    mine = await place(server.client, ACCOUNT, "mine-1")
    theirs = await place(server.client, OTHER, "theirs-1")
    async with server.client_as(Role.ADMIN, "desk-admin", MINE) as admin:
        response = await admin.risk.HaltTrading(
            risk_service_pb2.HaltTradingRequest(reason="desk stop", cancel_working_orders=True)
        )
    assert (response.state.halted, response.state.account) == (True, ACCOUNT)
    assert list(response.cancelled_order_ids) == [mine]
    assert await status_of(server, theirs) != order_service_pb2.ORDER_STATUS_PENDING_CANCEL
    assert not (await state_of(server)).halted
    assert not (await state_of(server, OTHER)).halted
    error = await refusal(server.client.orders.PlaceOrder(resting_order(ACCOUNT, "mine-2")))
    assert (error.reason, error.metadata["account"]) == ("TRADING_HALTED", ACCOUNT)
    await place(server.client, OTHER, "theirs-2")


async def test_a_scoped_admin_never_reaches_another_account_or_every_account(
    two_accounts: RunningServer,
) -> None:
    server = two_accounts
    theirs = await place(server.client, OTHER, "theirs-1")
    async with server.client_as(Role.ADMIN, "desk-admin", MINE) as admin:
        for call in (
            admin.risk.HaltTrading(risk_service_pb2.HaltTradingRequest(reason="x", account=OTHER)),
            admin.risk.ResumeTrading(
                risk_service_pb2.ResumeTradingRequest(reason="x", account=OTHER)
            ),
            admin.orders.CancelAllOrders(order_service_pb2.CancelAllOrdersRequest(account=OTHER)),
        ):
            error = await refusal(call)
            assert error.code == grpc.StatusCode.PERMISSION_DENIED
        # With no account named, the request is narrowed to the token's account.
        cancelled = await admin.orders.CancelAllOrders(order_service_pb2.CancelAllOrdersRequest())
    assert list(cancelled.orders) == []
    assert await status_of(server, theirs) != order_service_pb2.ORDER_STATUS_PENDING_CANCEL
    assert not (await state_of(server)).halted


async def test_a_scoped_resume_lifts_only_its_account_halt(two_accounts: RunningServer) -> None:
    server = two_accounts
    await server.client.risk.HaltTrading(risk_service_pb2.HaltTradingRequest(reason="everyone"))
    async with server.client_as(Role.ADMIN, "desk-admin", MINE) as admin:
        await admin.risk.HaltTrading(risk_service_pb2.HaltTradingRequest(reason="mine too"))
        response = await admin.risk.ResumeTrading(
            risk_service_pb2.ResumeTradingRequest(reason="mine is fine")
        )
        # The halt of every account still applies to it.
        assert (response.state.halted, response.state.account) == (True, "")
        error = await refusal(admin.orders.PlaceOrder(resting_order(ACCOUNT, "mine-1")))
        assert error.reason == "TRADING_HALTED"
    await server.client.risk.ResumeTrading(risk_service_pb2.ResumeTradingRequest(reason="over"))
    await place(server.client, ACCOUNT, "mine-2")
    await place(server.client, OTHER, "theirs-1")


async def test_an_unscoped_halt_cancels_every_account(two_accounts: RunningServer) -> None:
    server = two_accounts
    placed = {await place(server.client, ACCOUNT, "mine-1"), await place(server.client, OTHER, "o")}
    response = await server.client.risk.HaltTrading(
        risk_service_pb2.HaltTradingRequest(reason="panic", cancel_working_orders=True)
    )
    assert set(response.cancelled_order_ids) == placed
    assert (response.state.halted, response.state.account) == (True, "")
    error = await refusal(server.client.orders.PlaceOrder(resting_order(OTHER, "other-2")))
    assert error.reason == "TRADING_HALTED"


async def test_account_halts_survive_a_restart(simulator: Simulator, tmp_path: Path) -> None:
    async with migrated_database("sqlite", tmp_path) as database:
        async with running_server(simulator, database) as server:
            await server.client.risk.HaltTrading(
                risk_service_pb2.HaltTradingRequest(reason="overnight", account=ACCOUNT)
            )
        async with running_server(simulator, database) as server:
            state = await state_of(server, ACCOUNT)
            everyone = await state_of(server)
    assert (state.halted, state.account, state.reason) == (True, ACCOUNT, "overnight")
    assert not everyone.halted
