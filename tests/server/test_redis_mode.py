"""The server with REDIS_URL set: order-event wake-ups travel through real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from ibkr.v1 import common_pb2, market_data_service_pb2, order_service_pb2
from ibkr_grpc.services.cache_codec import decode_quote
from ibkr_simulator import Simulator
from tests.server.conftest import running_server
from tests.server.test_order_lifecycle import collecting
from tests.server.test_orders import limit_buy
from tests.support.databases import migrated_database
from tests.support.redis import redis_for_test, redis_url
from tests.support.waiting import eventually


async def test_order_events_reach_streams_through_redis(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        redis_for_test() as (client, prefix),
        migrated_database("sqlite", tmp_path) as database,
        running_server(
            simulator, database, redis_url=SecretStr(redis_url()), redis_key_prefix=prefix
        ) as server,
    ):
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(f"{prefix}order-events")
        try:
            async with collecting(server) as collector:
                placed = await server.client.orders.PlaceOrder(limit_buy("60.00", key="via-redis"))
                await eventually(
                    lambda: any(e.order.order_id == placed.order.order_id for e in collector.events)
                )
                kinds = {event.type for event in collector.events}
                assert order_service_pb2.ORDER_EVENT_TYPE_CREATED in kinds
            async with asyncio.timeout(5):
                message = None
                while message is None:
                    message = await pubsub.get_message(timeout=1.0)
            assert int(message["data"]) > 0
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_quotes_are_shared_through_redis(simulator: Simulator, tmp_path: Path) -> None:
    async with (
        redis_for_test() as (client, prefix),
        migrated_database("sqlite", tmp_path) as database,
        running_server(
            simulator, database, redis_url=SecretStr(redis_url()), redis_key_prefix=prefix
        ) as server,
    ):
        details = await server.client.market_data.GetContractDetails(
            market_data_service_pb2.GetContractDetailsRequest(
                contract=common_pb2.Contract(symbol="AAPL")
            )
        )
        con_id = details.details[0].contract.con_id
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(f"{prefix}quotes.{con_id}")
        stream = server.client.market_data.StreamQuotes(
            market_data_service_pb2.StreamQuotesRequest(
                contracts=[common_pb2.Contract(symbol="AAPL")]
            )
        )
        try:
            for _ in range(3):
                await simulator.step()
            async with asyncio.timeout(10):
                message = None
                while message is None:
                    message = await pubsub.get_message(timeout=1.0)
            shared = decode_quote(message["data"])
            assert shared.contract.con_id == con_id
            assert shared.bid is not None
            cached = await client.get(f"{prefix}quote:{con_id}")
            assert isinstance(cached, bytes)
            assert decode_quote(cached).contract.symbol == "AAPL"
            assert [key async for key in client.scan_iter(match=f"{prefix}details:*")]
        finally:
            stream.cancel()
            await pubsub.aclose()  # type: ignore[no-untyped-call]
