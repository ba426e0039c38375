"""Depth, tick-by-tick and live-bar streams over HTTP/JSON through Envoy's transcoder:
newline-delimited JSON, keyed by con_id in the path or by contract query fields, a bad request
a 400 (not a 200), and HTTP readers sharing the one IB subscription with gRPC readers."""

from __future__ import annotations

from ibkr.v1 import market_data_service_pb2 as pb
from tests.edge.conftest import Edge
from tests.edge.web import stream
from tests.server.live_streams import collecting, stock
from tests.support.waiting import eventually

STOCK = "contract.symbol=AAPL&contract.security_type=SECURITY_TYPE_STOCK"


async def test_depth_streams_by_con_id_or_query_share_one_ib_subscription(edge: Edge) -> None:
    simulator = edge.server.simulator
    con_id = simulator.contract("AAPL").con_id
    grpc_stream = edge.server.client.market_data.StreamMarketDepth(
        pb.StreamMarketDepthRequest(contract=stock("AAPL"))
    )
    async with (
        collecting(grpc_stream) as over_grpc,
        stream(
            edge.base_url,
            f"/v1/contracts/{con_id}/depth:stream?rows=3&heartbeat_interval=1s",
            headers=edge.authorization,
        ) as by_path,
        stream(edge.base_url, f"/v1/depth:stream?{STOCK}", headers=edge.authorization) as by_query,
    ):
        assert (by_path.status, by_query.status) == (200, 200)
        first = await by_path.next_json()
        book = first["book"]
        assert book["contract"]["con_id"] == str(con_id)
        assert len(book["bids"]) == 3
        assert float(book["bids"][0]["price"]) < float(book["asks"][0]["price"])
        assert "book" in await by_query.next_json()
        await eventually(lambda: over_grpc.payloads("book"))
        assert simulator.status().market_depth_subscriptions == 1
        await simulator.step()
        update = await by_path.next_json()
        while "heartbeat" in update:
            update = await by_path.next_json()
        assert "update" in update, update


async def test_tick_and_bar_streams_over_http(edge: Edge) -> None:
    con_id = edge.server.simulator.contract("MSFT").con_id
    async with stream(
        edge.base_url,
        f"/v1/contracts/{con_id}/ticks:stream?tick_type=TICK_TYPE_BID_ASK",
        headers=edge.authorization,
    ) as ticks:
        assert ticks.status == 200
        tick = (await ticks.next_json())["bid_ask"]
        assert float(tick["bid_price"]) <= float(tick["ask_price"])
    async with stream(
        edge.base_url,
        f"/v1/contracts/{con_id}/bars:stream?bar_size=BAR_SIZE_1_MINUTE"
        "&span.count=600&span.unit=SPAN_UNIT_SECONDS&source=BAR_SOURCE_MIDPOINT",
        headers=edge.authorization,
    ) as bars:
        assert bars.status == 200
        history = (await bars.next_json())["history"]["bars"]
        assert len(history) >= 10
        assert {"start_time", "open", "high", "low", "close"} <= set(history[0])
        marker = await bars.next_json()
        assert marker["marker"]["type"] == "STREAM_MARKER_TYPE_SNAPSHOT_COMPLETE"


async def test_bad_live_stream_requests_are_400_not_200(edge: Edge) -> None:
    for path in (
        f"/v1/depth:stream?{STOCK}&rows=50",
        "/v1/depth:stream",
        f"/v1/ticks:stream?{STOCK}",
        (
            f"/v1/bars:stream?{STOCK}&bar_size=BAR_SIZE_1_SECOND&span.count=60"
            "&span.unit=SPAN_UNIT_SECONDS"
        ),
        f"/v1/bars:stream?{STOCK}&bar_size=BAR_SIZE_1_MINUTE",
    ):
        async with stream(edge.base_url, path, headers=edge.authorization) as refused:
            assert refused.status == 400, path
            error = await refused.next_json()
            assert error["details"][0]["reason"] == "VALIDATION_ERROR", path
