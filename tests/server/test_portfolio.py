"""PortfolioService end to end: accounts, summaries, positions and PnL follow the fills."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import grpc.aio
import pytest

from ibkr.v1 import common_pb2, order_service_pb2, portfolio_service_pb2
from ibkr_client import ApiError
from ibkr_grpc.store.snapshot_store import SnapshotStore
from tests.server.conftest import ACCOUNT, RunningServer
from tests.server.test_orders import AAPL, order_status
from tests.support.waiting import eventually


async def fill_at_market(
    server: RunningServer,
    quantity: str,
    key: str,
    side: common_pb2.Side.ValueType = common_pb2.SIDE_BUY,
) -> str:
    placed = await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            contract=AAPL,
            side=side,
            quantity=quantity,
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
            client_order_id=key,
        )
    )
    await server.simulator.step()

    async def filled() -> bool:
        status = await order_status(server, placed.order.order_id)
        return status == order_service_pb2.ORDER_STATUS_FILLED

    await eventually(filled)
    return placed.order.order_id


async def test_accounts_and_summary(server: RunningServer) -> None:
    accounts = await server.client.portfolio.ListAccounts(
        portfolio_service_pb2.ListAccountsRequest()
    )
    assert [a.account_id for a in accounts.accounts] == [ACCOUNT]
    assert accounts.accounts[0].trading_mode == common_pb2.TRADING_MODE_PAPER
    assert accounts.accounts[0].base_currency == "USD"
    summary = await server.client.portfolio.GetAccountSummary(
        portfolio_service_pb2.GetAccountSummaryRequest(account=ACCOUNT)
    )
    assert float(summary.summary.net_liquidation) > 0
    assert summary.summary.buying_power
    assert {value.tag for value in summary.summary.values} >= {"NetLiquidation", "TotalCashValue"}


async def test_an_unknown_account_is_not_found(server: RunningServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.portfolio.GetPnL(
            portfolio_service_pb2.GetPnLRequest(account="DU0000000")
        )
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "ACCOUNT_NOT_FOUND"


async def test_positions_and_pnl_follow_a_fill(server: RunningServer) -> None:
    await fill_at_market(server, "10", "position-buy")

    async def holding() -> bool:
        response = await server.client.portfolio.ListPositions(
            portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT)
        )
        return [(p.contract.symbol, p.quantity) for p in response.positions] == [("AAPL", "10")]

    await eventually(holding, message="the position never appeared")
    positions = await server.client.portfolio.ListPositions(
        portfolio_service_pb2.ListPositionsRequest(symbol="aapl")
    )
    assert float(positions.positions[0].average_cost) > 0

    async def pnl_reported() -> bool:
        response = await server.client.portfolio.GetPnL(
            portfolio_service_pb2.GetPnLRequest(account=ACCOUNT)
        )
        return bool(response.pnl.unrealized_pnl)

    await eventually(pnl_reported, message="PnL was never reported")


async def test_each_open_position_reports_its_daily_pnl(server: RunningServer) -> None:
    simulator = server.simulator
    assert simulator.status().pnl_subscriptions == 1  # the account's
    await fill_at_market(server, "10", "daily-buy")
    simulator.jump_price("AAPL", 2.0)

    async def daily_pnl() -> str:
        response = await server.client.portfolio.ListPositions(
            portfolio_service_pb2.ListPositionsRequest(account=ACCOUNT)
        )
        return response.positions[0].daily_pnl if response.positions else ""

    async def reported() -> bool:
        return bool(await daily_pnl())

    await eventually(reported, message="the position's daily PnL was never reported")
    assert float(await daily_pnl()) > 0
    assert simulator.status().pnl_subscriptions == 2

    # Flat again: the position's subscription is cancelled.
    await fill_at_market(server, "10", "daily-sell", side=common_pb2.SIDE_SELL)
    await eventually(
        lambda: simulator.status().pnl_subscriptions == 1,
        message="the closed position's PnL subscription was never cancelled",
    )

    # After a reconnect an open position is followed again.
    await fill_at_market(server, "5", "daily-buy-again")
    await eventually(lambda: simulator.status().pnl_subscriptions == 2)
    await simulator.drop_connections()
    await server.wait_until_ready()
    await eventually(
        lambda: simulator.status().pnl_subscriptions == 2,
        message="the position's PnL was not subscribed again after the reconnect",
    )
    await eventually(reported)


async def test_the_portfolio_stream_sends_a_snapshot_then_changes(server: RunningServer) -> None:
    call = server.client.portfolio.StreamPortfolio(
        portfolio_service_pb2.StreamPortfolioRequest(account=ACCOUNT)
    )
    received: list[portfolio_service_pb2.StreamPortfolioResponse] = []

    async def collect() -> None:
        async for response in call:
            received.append(response)  # noqa: PERF401  the test watches it grow

    task = asyncio.create_task(collect())
    try:
        complete = common_pb2.STREAM_MARKER_TYPE_SNAPSHOT_COMPLETE
        await eventually(lambda: any(r.marker.type == complete for r in received))
        kinds = [r.WhichOneof("payload") for r in received]
        assert kinds[0] == "account_summary"
        assert "pnl" in kinds
        before = len(received)
        await fill_at_market(server, "3", "stream-buy")

        def position_update() -> bool:
            return any(
                r.WhichOneof("payload") == "position" and r.position.contract.symbol == "AAPL"
                for r in received[before:]
            )

        await eventually(position_update, message="no position change on the stream")
    finally:
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_each_reconciliation_snapshots_accounts_and_positions(server: RunningServer) -> None:
    await fill_at_market(server, "4", "snapshot-buy")
    await server.simulator.drop_connections()
    await server.wait_until_ready()
    snapshots = SnapshotStore(server.database)

    async def recorded() -> bool:
        positions = await snapshots.latest_positions(ACCOUNT)
        return any(p.symbol == "AAPL" and p.quantity == 4 for p in positions)

    await eventually(recorded, message="no position snapshot after reconnecting")


async def test_a_portfolio_stream_for_an_unknown_account_is_refused_before_it_starts(
    server: RunningServer,
) -> None:
    """Refused before anything is sent (a trailers-only response), so HTTP/JSON through Envoy
    answers 404, not 200 with the error in the body."""
    call = server.client.portfolio.StreamPortfolio(
        portfolio_service_pb2.StreamPortfolioRequest(account="DU0000000")
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in call:
            pass
    assert ApiError.from_rpc_error(raised.value).reason == "ACCOUNT_NOT_FOUND"
    assert not raised.value.initial_metadata()
