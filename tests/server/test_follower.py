"""Several server processes, one IB Gateway session: a follower (IB_SESSION_ROLE=follower)
serves quote streams from the lines the owner holds, through real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from ibkr.v1 import common_pb2, gateway_service_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_client import ApiError, IbkrClient
from ibkr_grpc.app import Application
from ibkr_grpc.domain.identity import Role
from ibkr_grpc.store.database import Database
from ibkr_simulator import Simulator
from tests.server.conftest import mint, running_server, server_settings
from tests.server.test_orders import limit_buy
from tests.support.databases import migrated_database
from tests.support.redis import redis_for_test, redis_url

AAPL = common_pb2.Contract(symbol="AAPL")


@asynccontextmanager
async def follower(
    simulator: Simulator, database: Database, prefix: str, *, url: str = ""
) -> AsyncIterator[IbkrClient]:
    async with follower_application(simulator, database, prefix, url=url) as application:
        client = IbkrClient.connect(
            f"127.0.0.1:{application.port}", token=mint(Role.TRADER, "follower")
        )
        try:
            yield client
        finally:
            await client.close()


@asynccontextmanager
async def follower_application(
    simulator: Simulator, database: Database, prefix: str, *, url: str = ""
) -> AsyncIterator[Application]:
    settings = server_settings(simulator, database.url).model_copy(
        update={
            "ib_session_role": "follower",
            "redis_url": SecretStr(url or redis_url()),
            "redis_key_prefix": prefix,
        }
    )
    application = Application(settings, database=database)
    await application.start()
    try:
        yield application
    finally:
        await application.stop(grace=1)


async def test_a_follower_streams_quotes_from_the_owners_session(
    simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "owner").mkdir()
    (tmp_path / "follower").mkdir()
    async with (
        redis_for_test() as (_, prefix),
        migrated_database("sqlite", tmp_path / "owner") as owner_database,
        migrated_database("sqlite", tmp_path / "follower") as follower_database,
        running_server(
            simulator, owner_database, redis_url=SecretStr(redis_url()), redis_key_prefix=prefix
        ) as owner,
        follower(simulator, follower_database, prefix) as client,
    ):
        stream = client.market_data.StreamQuotes(pb.StreamQuotesRequest(contracts=[AAPL]))
        try:
            quotes: list[pb.Quote] = []
            async with asyncio.timeout(15):
                async for response in stream:
                    await simulator.step()
                    if response.WhichOneof("payload") == "quote":
                        quotes.append(response.quote)
                    if len(quotes) >= 3:
                        break
        finally:
            stream.cancel()
        assert {quote.contract.symbol for quote in quotes} == {"AAPL"}
        assert all(quote.bid for quote in quotes)
        owner_status = await owner.client.gateway.GetGatewayStatus(
            gateway_service_pb2.GetGatewayStatusRequest()
        )
        assert owner_status.status.market_data_lines_in_use == 1  # the follower's lease
        quote = await client.market_data.GetQuote(pb.GetQuoteRequest(contract=AAPL))
        assert quote.quote.contract.symbol == "AAPL"
        follower_status = await client.gateway.GetGatewayStatus(
            gateway_service_pb2.GetGatewayStatusRequest()
        )
        assert follower_status.status.state != gateway_service_pb2.CONNECTION_STATE_READY
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.orders.PlaceOrder(limit_buy("10.00", key="on-follower"))
        error = ApiError.from_rpc_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "IB_CONNECTION_FAILED")


async def test_a_follower_stays_serving_market_data_as_its_health_is_probed(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A load balancer (Envoy's pool of followers) drops a process whose gRPC health check says
    NOT_SERVING. A follower never holds the session, so its market data must stay SERVING
    through every database probe, and the services that need the session must say NOT_SERVING."""
    async with (
        redis_for_test() as (_, prefix),
        migrated_database("sqlite", tmp_path) as database,
        follower_application(simulator, database, prefix) as application,
    ):
        application._database_reachable(up=True)  # what each database probe reports
        await asyncio.sleep(0.1)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{application.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            async def status(service: str) -> int:
                request = health_pb2.HealthCheckRequest(service=service)
                return int((await health.Check(request)).status)

            serving = health_pb2.HealthCheckResponse.SERVING
            not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
            assert await status("ibkr.v1.MarketDataService") == serving
            assert await status("") == serving
            assert await status("ibkr.v1.OrderService") == not_serving
