"""Authentication and roles through real gRPC with real tokens: every RPC, every role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from ibkr.v1 import (
    common_pb2,
    gateway_service_pb2,
    market_data_service_pb2,
    option_service_pb2,
    option_service_pb2_grpc,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)
from ibkr_client import ApiError, IbkrClient
from ibkr_grpc.api.access import REQUIRED_ROLES
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, mint, running_server
from tests.support.databases import migrated_database

AAPL = common_pb2.Contract(symbol="AAPL")
pb_order = order_service_pb2
# A well-formed request for every RPC; what matters here is whether the call gets past the gate.
REQUESTS: dict[str, Any] = {
    "OrderService/PlaceOrder": pb_order.PlaceOrderRequest(
        account=ACCOUNT, contract=AAPL, side=common_pb2.SIDE_BUY, quantity="1",
        order_type=pb_order.ORDER_TYPE_LIMIT, limit_price="10", validate_only=True,
    ),
    "OrderService/GetOrder": pb_order.GetOrderRequest(order_id="ord_none"),
    "OrderService/ListOrders": pb_order.ListOrdersRequest(),
    "OrderService/ModifyOrder": pb_order.ModifyOrderRequest(order_id="ord_none", quantity="2"),
    "OrderService/CancelOrder": pb_order.CancelOrderRequest(order_id="ord_none"),
    "OrderService/CancelAllOrders": pb_order.CancelAllOrdersRequest(),
    "OrderService/ListFills": pb_order.ListFillsRequest(),
    "OrderService/StreamOrderEvents": pb_order.StreamOrderEventsRequest(),
    "PortfolioService/ListAccounts": portfolio_service_pb2.ListAccountsRequest(),
    "PortfolioService/GetAccountSummary": portfolio_service_pb2.GetAccountSummaryRequest(account=ACCOUNT),
    "PortfolioService/ListPositions": portfolio_service_pb2.ListPositionsRequest(),
    "PortfolioService/GetPnL": portfolio_service_pb2.GetPnLRequest(account=ACCOUNT),
    "PortfolioService/StreamPortfolio": portfolio_service_pb2.StreamPortfolioRequest(),
    "MarketDataService/SearchContracts": market_data_service_pb2.SearchContractsRequest(query="AAP"),
    "MarketDataService/GetContractDetails": market_data_service_pb2.GetContractDetailsRequest(contract=AAPL),
    "MarketDataService/GetQuote": market_data_service_pb2.GetQuoteRequest(contract=AAPL),
    "MarketDataService/StreamQuotes": market_data_service_pb2.StreamQuotesRequest(contracts=[AAPL]),
    "MarketDataService/GetHistoricalBars": market_data_service_pb2.GetHistoricalBarsRequest(
        contract=AAPL, bar_size=market_data_service_pb2.BAR_SIZE_1_HOUR,
        span=market_data_service_pb2.HistorySpan(count=1, unit=market_data_service_pb2.SPAN_UNIT_DAYS),
    ),
    "MarketDataService/StreamMarketDepth": market_data_service_pb2.StreamMarketDepthRequest(contract=AAPL),
    "MarketDataService/StreamTicks": market_data_service_pb2.StreamTicksRequest(
        contract=AAPL, tick_type=market_data_service_pb2.TICK_TYPE_BID_ASK,
    ),
    "MarketDataService/StreamBars": market_data_service_pb2.StreamBarsRequest(
        contract=AAPL, bar_size=market_data_service_pb2.BAR_SIZE_1_MINUTE,
        span=market_data_service_pb2.HistorySpan(count=600, unit=market_data_service_pb2.SPAN_UNIT_SECONDS),
    ),
    "OptionService/GetOptionChain": option_service_pb2.GetOptionChainRequest(underlying=AAPL),
    "OptionService/StreamOptionChain": option_service_pb2.StreamOptionChainRequest(
        underlying=AAPL, expiration="20260320", strikes_per_side=1,
    ),
    "GatewayService/GetGatewayStatus": gateway_service_pb2.GetGatewayStatusRequest(),
    "GatewayService/StreamGatewayStatus": gateway_service_pb2.StreamGatewayStatusRequest(),
    "RiskService/GetRiskLimits": risk_service_pb2.GetRiskLimitsRequest(),
    "RiskService/UpdateRiskLimits": risk_service_pb2.UpdateRiskLimitsRequest(),
    "RiskService/HaltTrading": risk_service_pb2.HaltTradingRequest(reason=""),
    "RiskService/ResumeTrading": risk_service_pb2.ResumeTradingRequest(reason=""),
    "RiskService/GetTradingState": risk_service_pb2.GetTradingStateRequest(),
    "RiskService/StreamTradingState": risk_service_pb2.StreamTradingStateRequest(),
}  # fmt: skip


def stub_call(client: IbkrClient, method: str) -> Callable[..., Any]:
    service, name = method.split("/")
    stubs = {
        "OrderService": client.orders,
        "PortfolioService": client.portfolio,
        "MarketDataService": client.market_data,
        "OptionService": option_service_pb2_grpc.OptionServiceStub(client.channel),
        "GatewayService": client.gateway,
        "RiskService": client.risk,
    }
    return getattr(stubs[service], name)  # type: ignore[no-any-return]


async def outcome(client: IbkrClient, method: str) -> grpc.StatusCode:
    """The status the call ends with (OK for a stream that delivered its first message)."""
    call = stub_call(client, method)(REQUESTS[method], timeout=10)
    try:
        if method.split("/")[1].startswith("Stream"):
            await anext(aiter(call))
            call.cancel()
        else:
            await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def every_method() -> list[str]:
    methods = sorted(method.removeprefix("/ibkr.v1.") for method in REQUIRED_ROLES)
    assert methods == sorted(REQUESTS), "every RPC needs a request in this test"
    return methods


@pytest.fixture
async def sqlite_server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        yield server


async def test_the_role_matrix(sqlite_server: RunningServer, every_method: list[str]) -> None:
    denied = grpc.StatusCode.PERMISSION_DENIED
    for role in Role:
        async with sqlite_server.client_as(role, f"{role.name.lower()}-user") as client:
            for method in every_method:
                required = REQUIRED_ROLES[f"/ibkr.v1.{method}"]
                code = await outcome(client, method)
                if role >= required:
                    assert code not in {denied, grpc.StatusCode.UNAUTHENTICATED}, (
                        role,
                        method,
                        code,
                    )
                else:
                    assert code == denied, (role, method, code)
    # Leave trading as it was for whatever runs next on this server.
    state = await sqlite_server.client.risk.GetTradingState(
        risk_service_pb2.GetTradingStateRequest()
    )
    assert not state.state.halted


@pytest.mark.parametrize(
    ("token_kind", "cause"),
    [
        ("none", "missing"),
        ("garbage", "malformed"),
        ("expired", "expired"),
        ("wrong-signature", "signature"),
        ("wrong-audience", "audience"),
    ],
)
async def test_bad_tokens_are_unauthenticated_for_every_rpc(
    sqlite_server: RunningServer, every_method: list[str], token_kind: str, cause: str
) -> None:
    tokens: dict[str, str | None] = {
        "none": None,
        "garbage": "not.a.jwt",
        "expired": mint(Role.ADMIN, lifetime=timedelta(minutes=-5)),
        "wrong-signature": mint(Role.ADMIN, secret="another-secret-" + "y" * 40),
        "wrong-audience": _wrong_audience(),
    }
    address = f"127.0.0.1:{sqlite_server.application.port}"
    async with IbkrClient.connect(address, token=tokens[token_kind]) as client:
        for method in every_method:
            assert await outcome(client, method) == grpc.StatusCode.UNAUTHENTICATED, method
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.gateway.GetGatewayStatus(gateway_service_pb2.GetGatewayStatusRequest())
    error = ApiError.from_rpc_error(raised.value)
    assert error.reason == "AUTHENTICATION_FAILED"
    metrics = sqlite_server.application.metrics.authentication_failures.labels(reason=cause)
    assert metrics._value.get() >= len(every_method)


def _wrong_audience() -> str:
    from datetime import UTC, datetime  # noqa: PLC0415

    from ibkr_grpc.api.tokens import TokenIssuer, mint_token  # noqa: PLC0415
    from tests.server.conftest import JWT_SECRET  # noqa: PLC0415

    issuer = TokenIssuer(JWT_SECRET, "HS256", "ibkr-grpc", "someone-else")
    return mint_token(
        issuer,
        subject="x",
        role=Role.ADMIN,
        accounts=frozenset(),
        lifetime=timedelta(hours=1),
        now=datetime.now(UTC),
    )


async def test_health_needs_no_token(sqlite_server: RunningServer) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    async with IbkrClient.connect(f"127.0.0.1:{sqlite_server.application.port}") as client:
        stub = health_pb2_grpc.HealthStub(client.channel)
        response = await stub.Check(health_pb2.HealthCheckRequest())
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_account_scoped_tokens(sqlite_server: RunningServer) -> None:
    async with sqlite_server.client_as(Role.TRADER, "scoped", frozenset({"DU9999999"})) as client:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.portfolio.GetPnL(portfolio_service_pb2.GetPnLRequest(account=ACCOUNT))
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.orders.PlaceOrder(REQUESTS["OrderService/PlaceOrder"])
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with sqlite_server.client_as(Role.VIEWER, "mine", frozenset({ACCOUNT})) as client:
        listed = await client.orders.ListOrders(pb_order.ListOrdersRequest())
        assert list(listed.orders) == []
        pnl = await client.portfolio.GetPnL(portfolio_service_pb2.GetPnLRequest(account=ACCOUNT))
        assert pnl.pnl.account == ACCOUNT


async def test_traders_change_only_their_own_orders(sqlite_server: RunningServer) -> None:
    request = pb_order.PlaceOrderRequest()
    request.CopyFrom(REQUESTS["OrderService/PlaceOrder"])
    request.validate_only = False
    request.client_order_id = "alice-1"
    async with (
        sqlite_server.client_as(Role.TRADER, "alice") as alice,
        sqlite_server.client_as(Role.TRADER, "bob") as bob,
    ):
        placed = await alice.orders.PlaceOrder(request)
        assert placed.order.order_id
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await bob.orders.CancelOrder(
                pb_order.CancelOrderRequest(order_id=placed.order.order_id)
            )
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await bob.orders.PlaceOrder(request)  # alice's idempotency key is not bob's
        assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
        cancelled = await alice.orders.CancelOrder(
            pb_order.CancelOrderRequest(order_id=placed.order.order_id)
        )
        assert cancelled.order.order_id == placed.order.order_id
