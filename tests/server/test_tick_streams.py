"""StreamTicks end to end: one IB tick-by-tick subscription per contract and tick type for
every stream, trades as events, bid/ask and midpoint as states, IB's limit.

IB (Tick By Tick Data, https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/):
tickType "Last", "AllLast", "BidAsk" or "MidPoint"; tickByTickAllLast's tickType is "1: Last or
2: AllLast". The limit is IB's error 10190, "Max number of tick-by-tick requests has been
reached" (https://interactivebrokers.github.io/tws-api/message_codes.html); the number depends
on the user's market-data lines (the simulator allows five, as at 100 lines).
"""

from __future__ import annotations

from decimal import Decimal

import grpc

from ibkr.v1 import market_data_service_pb2 as pb
from tests.server.conftest import RunningServer
from tests.server.live_streams import Collector, collecting, refusal, sqlite_server, stock
from tests.support.waiting import eventually

__all__ = ["sqlite_server"]


def ticks(symbol: str, tick_type: pb.TickType.ValueType) -> pb.StreamTicksRequest:
    return pb.StreamTicksRequest(contract=stock(symbol), tick_type=tick_type)


async def test_streams_share_one_subscription_per_contract_and_tick_type(
    sqlite_server: RunningServer,
) -> None:
    server = sqlite_server
    simulator = server.simulator
    market = server.client.market_data
    streams: list[Collector[pb.StreamTicksResponse]] = [
        Collector(market.StreamTicks(ticks("AAPL", pb.TICK_TYPE_BID_ASK))) for _ in range(3)
    ]
    try:
        # IB sends the current bid and ask at once; every stream starts with it.
        await eventually(lambda: all(stream.payloads("bid_ask") for stream in streams))
        quote = simulator.quote("AAPL")
        first = streams[0].payloads("bid_ask")[0]
        assert Decimal(first.bid_price) <= Decimal(first.ask_price)
        assert abs(Decimal(first.bid_price) - Decimal(str(quote.bid))) < 1
        assert simulator.status().tick_by_tick_subscriptions == 1
        simulator.jump_price("AAPL", 1.0)
        moved = simulator.quote("AAPL")

        def saw_the_move(stream: Collector[pb.StreamTicksResponse]) -> bool:
            return any(
                Decimal(tick.bid_price) == Decimal(str(moved.bid))
                for tick in stream.payloads("bid_ask")
            )

        await eventually(lambda: all(saw_the_move(stream) for stream in streams))
        # A stream joining a held subscription starts with the newest bid and ask.
        async with collecting(market.StreamTicks(ticks("AAPL", pb.TICK_TYPE_BID_ASK))) as late:
            await eventually(lambda: saw_the_move(late))
        # Another tick type is another subscription.
        async with collecting(market.StreamTicks(ticks("AAPL", pb.TICK_TYPE_MIDPOINT))) as mid:
            await eventually(lambda: mid.payloads("midpoint"))
            assert simulator.status().tick_by_tick_subscriptions == 2
    finally:
        for stream in streams:
            await stream.close()

    async def released() -> bool:
        return simulator.status().tick_by_tick_subscriptions == 0

    await eventually(released, within=5, message="the subscriptions were never cancelled")


async def test_every_trade_reaches_every_trade_stream(sqlite_server: RunningServer) -> None:
    server = sqlite_server
    simulator = server.simulator
    market = server.client.market_data
    request = ticks("MSFT", pb.TICK_TYPE_LAST)
    async with (
        collecting(market.StreamTicks(request)) as one,
        collecting(market.StreamTicks(request)) as two,
    ):
        await eventually(lambda: simulator.status().tick_by_tick_subscriptions == 1)

        async def trades() -> bool:
            await simulator.step()
            return len(one.payloads("trade")) >= 5

        await eventually(trades, message="no trades")
        await eventually(lambda: len(two.payloads("trade")) >= len(one.payloads("trade")))
        for stream in (one, two):
            trade = stream.payloads("trade")[0]
            assert Decimal(trade.price) > 0
            assert Decimal(trade.size) > 0
            assert trade.exchange
            assert trade.time.seconds > 0
            assert "dropped" not in stream.kinds()
        # The same trades, in the same order, on both streams.
        first, second = one.payloads("trade"), two.payloads("trade")
        shared = min(len(first), len(second))
        assert [(t.price, t.size) for t in first[:shared]] == [
            (t.price, t.size) for t in second[:shared]
        ]


async def test_past_ibs_limit_a_stream_is_refused_with_a_quota_failure(
    sqlite_server: RunningServer,
) -> None:
    market = sqlite_server.client.market_data
    symbols = ("AAPL", "MSFT", "SPY", "QQQ", "IBM")
    streams: list[Collector[pb.StreamTicksResponse]] = [
        Collector(market.StreamTicks(ticks(s, pb.TICK_TYPE_BID_ASK))) for s in symbols
    ]
    try:
        await eventually(lambda: all(stream.payloads("bid_ask") for stream in streams))
        assert sqlite_server.simulator.status().tick_by_tick_subscriptions == 5
        error, subjects = await refusal(
            market.StreamTicks(ticks("AAPL", pb.TICK_TYPE_MIDPOINT), timeout=10)
        )
        assert (error.code, error.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "SUBSCRIPTION_LIMIT_EXCEEDED",
        )
        assert error.metadata["ib_error_code"] == "10190"
        assert subjects == ["tick_by_tick"]
        # A held subscription still takes more streams.
        async with collecting(market.StreamTicks(ticks("IBM", pb.TICK_TYPE_BID_ASK))) as more:
            await eventually(lambda: more.payloads("bid_ask"))
    finally:
        for stream in streams:
            await stream.close()


async def test_bad_tick_requests_fail_before_the_stream_starts(
    sqlite_server: RunningServer,
) -> None:
    market = sqlite_server.client.market_data
    error, _ = await refusal(market.StreamTicks(pb.StreamTicksRequest(contract=stock("AAPL"))))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["tick_type"]
    error, _ = await refusal(market.StreamTicks(ticks("NOSUCHTHING", pb.TICK_TYPE_LAST)))
    assert error.reason == "IB_INVALID_CONTRACT"
