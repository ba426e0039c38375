"""StreamMarketDepth end to end: one IB depth subscription per contract for every stream, the
book then its changes, IB's limit of three contracts, conflation for a slow reader.

IB's depth (https://interactivebrokers.github.io/tws-api/market_depth.html and EWrapper's
updateMktDepth/updateMktDepthL2 in https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/):
rows are addressed by position with "0 = insert, 1 = update, 2 = delete"; isSmartDepth
aggregates the exchanges (marketMaker then names the exchange holding the orders); "in case
the market depth is smaller than the requested number of rows, the TWS will simply return the
available entries". The limit is IB's error 309: "Max number (3) of market depth requests has
been reached. Note: TWS currently limits users to a maximum of 3 distinct market depth
requests. This same restriction applies to API clients, however API clients may make multiple
market depth requests for the same security"
(https://interactivebrokers.github.io/tws-api/message_codes.html).
"""

from __future__ import annotations

from decimal import Decimal

import grpc
from ib_async import IB, Contract, Stock  # noqa: TID251  another API client of the login, as a script

from ibkr.v1 import common_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_client import IbkrClient
from ibkr_grpc.domain.identity import Role
from tests.server.conftest import RunningServer, mint
from tests.server.live_streams import Collector, collecting, refusal, sqlite_server, stock
from tests.support.waiting import eventually

__all__ = ["sqlite_server"]
Book = dict[str, dict[Decimal, Decimal]]


def depth(symbol: str, rows: int = 0, exchange: str = "") -> pb.StreamMarketDepthRequest:
    contract = stock(symbol)
    contract.exchange = exchange
    return pb.StreamMarketDepthRequest(contract=contract, rows=rows)


def applied(collector: Collector[pb.StreamMarketDepthResponse]) -> Book:
    """The book a client holds after the snapshot and every update it read."""
    book: Book = {"bids": {}, "asks": {}}
    for response in collector.responses:
        kind = response.WhichOneof("payload")
        if kind == "book":
            book = {side: {} for side in book}
            message: pb.MarketDepthBook | pb.MarketDepthUpdate = response.book
        elif kind == "update":
            message = response.update
        else:
            continue
        for side in ("bids", "asks"):
            for level in getattr(message, side):
                size = Decimal(level.size)
                if size == 0:
                    book[side].pop(Decimal(level.price), None)
                else:
                    book[side][Decimal(level.price)] = size
    return book


def snapshot_of(message: pb.MarketDepthBook) -> Book:
    return {
        side: {Decimal(level.price): Decimal(level.size) for level in getattr(message, side)}
        for side in ("bids", "asks")
    }


async def test_streams_share_one_ib_depth_subscription_and_each_keeps_its_book(
    sqlite_server: RunningServer,
) -> None:
    server = sqlite_server
    simulator = server.simulator
    calls = [server.client.market_data.StreamMarketDepth(depth("AAPL", rows)) for rows in (5, 3)]
    async with collecting(calls[0]) as five, collecting(calls[1]) as three:
        await eventually(lambda: five.payloads("book") and three.payloads("book"))
        [book] = five.payloads("book")
        assert book.contract.con_id == simulator.contract("AAPL").con_id
        assert len(book.bids) == 5
        assert len(book.asks) == 5
        prices = [Decimal(level.price) for level in book.bids]
        assert prices == sorted(prices, reverse=True), "best bid first"
        asks = [Decimal(level.price) for level in book.asks]
        assert asks == sorted(asks), "best ask first"
        assert Decimal(book.bids[0].price) < Decimal(book.asks[0].price)
        # SMART: IB's aggregated book, each price split across the exchanges showing it.
        assert all(level.venues for level in book.bids)
        for level in book.bids:
            assert sum(Decimal(venue.size) for venue in level.venues) == Decimal(level.size)
        assert len(three.payloads("book")[0].bids) == 3
        assert simulator.status().market_depth_subscriptions == 1

        for _ in range(5):
            await simulator.step()
        await eventually(lambda: len(five.payloads("update")) >= 1)
        # After the steps, a new stream's book is what the others built from their updates.
        async with collecting(server.client.market_data.StreamMarketDepth(depth("AAPL"))) as late:
            await eventually(lambda: late.payloads("book"))
            latest = snapshot_of(late.payloads("book")[0])
            await eventually(lambda: applied(five) == latest, message="updates lost the book")
            top_three = {side: dict(sorted(levels.items(), reverse=side == "bids")[:3])
                         for side, levels in latest.items()}  # fmt: skip
            await eventually(lambda: applied(three) == top_three)
        assert simulator.status().market_depth_subscriptions == 1

    async def released() -> bool:
        return simulator.status().market_depth_subscriptions == 0

    await eventually(released, within=5, message="the depth subscription was never cancelled")


async def test_a_fourth_contract_is_refused_with_a_quota_failure(
    sqlite_server: RunningServer,
) -> None:
    server = sqlite_server
    market = server.client.market_data
    symbols = ("AAPL", "MSFT", "SPY")
    collectors: list[Collector[pb.StreamMarketDepthResponse]] = [
        Collector(market.StreamMarketDepth(depth(symbol))) for symbol in symbols
    ]
    try:
        await eventually(lambda: all(c.payloads("book") for c in collectors))
        error, subjects = await refusal(market.StreamMarketDepth(depth("QQQ")))
        assert (error.code, error.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "SUBSCRIPTION_LIMIT_EXCEEDED",
        )
        assert subjects == ["market_depth"]
        assert error.metadata["limit"] == "3"
        # A contract already held takes no new subscription.
        async with collecting(market.StreamMarketDepth(depth("MSFT"))) as sharing:
            await eventually(lambda: sharing.payloads("book"))
        # One book per contract (ib_async keeps one per contract): another exchange waits.
        error, subjects = await refusal(market.StreamMarketDepth(depth("AAPL", exchange="ARCA")))
        assert error.reason == "SUBSCRIPTION_LIMIT_EXCEEDED"
        assert subjects == ["market_depth_book"]
        assert server.simulator.status().market_depth_subscriptions == 3
    finally:
        for collector in collectors:
            await collector.close()


async def test_ib_refusing_depth_is_resource_exhausted_not_a_hang(
    sqlite_server: RunningServer,
) -> None:
    """Another API client of the same user holds depth on three contracts: IB answers the
    server's request with 309, which the stream reports at once."""
    server = sqlite_server
    simulator = server.simulator
    other = IB()
    await other.connectAsync(simulator.host, simulator.port, clientId=41)
    try:
        for symbol in ("MSFT", "SPY", "QQQ"):
            [contract] = await other.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
            assert isinstance(contract, Contract)
            other.reqMktDepth(contract, numRows=5, isSmartDepth=True)
        await eventually(lambda: simulator.status().market_depth_subscriptions == 3)
        call = server.client.market_data.StreamMarketDepth(depth("AAPL"), timeout=10)
        error, subjects = await refusal(call)
        assert (error.code, error.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "SUBSCRIPTION_LIMIT_EXCEEDED",
        )
        assert error.metadata["ib_error_code"] == "309"
        assert subjects == ["market_depth"]
    finally:
        other.disconnect()


async def test_one_exchange_book_has_no_venues(sqlite_server: RunningServer) -> None:
    async with collecting(
        sqlite_server.client.market_data.StreamMarketDepth(depth("AAPL", exchange="ARCA"))
    ) as arca:
        await eventually(lambda: arca.payloads("book"))
        [book] = arca.payloads("book")
        assert len(book.bids) == 5
        assert all(not level.venues for level in (*book.bids, *book.asks))


async def test_bad_depth_requests_fail_before_the_stream_starts(
    sqlite_server: RunningServer,
) -> None:
    market = sqlite_server.client.market_data
    error, _ = await refusal(market.StreamMarketDepth(depth("AAPL", rows=21)))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["rows"]
    error, _ = await refusal(market.StreamMarketDepth(pb.StreamMarketDepthRequest()))
    assert [v.field for v in error.field_violations] == ["contract"]
    error, _ = await refusal(market.StreamMarketDepth(depth("NOSUCHTHING")))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "IB_INVALID_CONTRACT")
    assert sqlite_server.simulator.status().market_depth_subscriptions == 0


async def test_a_reader_that_stops_gets_the_newest_levels_not_a_backlog(
    sqlite_server: RunningServer,
) -> None:
    """A stalled reader's stream holds one "the book changed" flag, not every change: when it
    reads again it gets the levels that differ from what it last sent, in one message."""
    server = sqlite_server
    reader = IbkrClient.connect(
        f"127.0.0.1:{server.application.port}",
        token=mint(Role.VIEWER),
        channel_options=[("grpc.http2.bdp_probe", 0)],
    )
    async with reader:
        stalled = reader.market_data.StreamMarketDepth(depth("AAPL"))
        first = await stalled.read()
        assert isinstance(first, pb.StreamMarketDepthResponse)
        assert first.WhichOneof("payload") == "book"
        async with collecting(server.client.market_data.StreamMarketDepth(depth("AAPL"))) as live:
            steps = 2_000  # past what the transport buffers (its flow-control window)
            for _ in range(steps):
                await server.simulator.step()
            await eventually(lambda: len(live.payloads("update")) > 10)
            async with collecting(
                server.client.market_data.StreamMarketDepth(depth("AAPL"))
            ) as late:
                await eventually(lambda: late.payloads("book"))
                latest = snapshot_of(late.payloads("book")[0])
            # The stalled stream reads again: a few messages bring it to the newest book.
            book = snapshot_of(first.book)
            reads = 0
            while book != latest:
                response = await stalled.read()
                assert isinstance(response, pb.StreamMarketDepthResponse)
                reads += 1
                if response.WhichOneof("payload") == "update":
                    for side in ("bids", "asks"):
                        for level in getattr(response.update, side):
                            if Decimal(level.size) == 0:
                                book[side].pop(Decimal(level.price), None)
                            else:
                                book[side][Decimal(level.price)] = Decimal(level.size)
            assert reads < steps / 2
        stalled.cancel()


async def test_the_book_resumes_after_a_gateway_reconnect(sqlite_server: RunningServer) -> None:
    server = sqlite_server
    async with collecting(server.client.market_data.StreamMarketDepth(depth("AAPL"))) as stream:
        await eventually(lambda: stream.payloads("book"))
        await server.simulator.drop_connections()
        reconciled = common_pb2.STREAM_MARKER_TYPE_GATEWAY_RECONCILED
        await eventually(
            lambda: any(marker.type == reconciled for marker in stream.payloads("marker")),
            within=15,
        )
        assert server.simulator.status().market_depth_subscriptions == 1
        server.simulator.jump_price("AAPL", 2.0)
        await server.simulator.step()
        async with collecting(server.client.market_data.StreamMarketDepth(depth("AAPL"))) as late:
            await eventually(lambda: late.payloads("book"))
            latest = snapshot_of(late.payloads("book")[0])
        await eventually(lambda: applied(stream) == latest, message="the book did not resume")
        assert stream.error is None
