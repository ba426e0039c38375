"""StreamBars end to end: the history then each new or updated bar, one IB keepUpToDate
subscription for every stream with the same parameters, and the stream going on across a
gateway reconnect with no bar missed or repeated.

IB (EClient.reqHistoricalData, https://interactivebrokers.github.io/tws-api/historical_bars.html):
keepUpToDate adds "updates of unfinished real time bars as they are available" after the
history, and needs an empty endDateTime; ib_async's wrapper.historicalDataUpdate replaces the
last bar on an update of the same date and appends one with a later date. IB documents no
cadence; live gateways send an update every 4 to 6 seconds (the simulator's default; here one
per price step). keepUpToDate is for bars of 5 seconds and up ("IBKR historical backfill can
use 1-second bars, but keepUpToDate=true historical update subscriptions are only documented
for bar sizes 5 seconds or greater", github.com/stoqey/ib/pull/270). IB keeps nothing across a
reconnect: "It may be necessary to remake real time bars subscriptions after the IB server
reset or between" (https://interactivebrokers.github.io/tws-api/realtime_bars.html), and 1101
says "market data requests have been lost and need to be re-submitted"
(https://interactivebrokers.github.io/tws-api/message_codes.html).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from ibkr.v1 import common_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer, running_server, simulator_config
from tests.server.live_streams import Collector, collecting, refusal, stock
from tests.support.databases import migrated_database
from tests.support.waiting import eventually

SNAPSHOT_COMPLETE = common_pb2.STREAM_MARKER_TYPE_SNAPSHOT_COMPLETE
RECONCILED = common_pb2.STREAM_MARKER_TYPE_GATEWAY_RECONCILED


@pytest.fixture
async def stopped_clock_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """The simulated clock stands still (time moves only with advance()) and keepUpToDate sends
    an update on every price step."""
    config = simulator_config(clock_speed=0, bar_update_seconds=(0.0, 0.0))
    async with (
        Simulator(config) as simulator,
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as server,
    ):
        yield server


def five_second_bars(symbol: str = "AAPL", seconds: int = 60) -> pb.StreamBarsRequest:
    """Midpoint bars: they change with every quote (trade bars only when a trade prints)."""
    return pb.StreamBarsRequest(
        contract=stock(symbol),
        bar_size=pb.BAR_SIZE_5_SECONDS,
        span=pb.HistorySpan(count=seconds, unit=pb.SPAN_UNIT_SECONDS),
        source=pb.BAR_SOURCE_MIDPOINT,
    )


def held_bars(stream: Collector[pb.StreamBarsResponse]) -> dict[int, pb.Bar]:
    """The bars a client holds, by start (seconds): the history, then each bar sent."""
    bars: dict[int, pb.Bar] = {}
    for response in stream.responses:
        kind = response.WhichOneof("payload")
        if kind == "history":
            bars.update({bar.start_time.seconds: bar for bar in response.history.bars})
        elif kind == "bar":
            bars[response.bar.start_time.seconds] = response.bar
    return bars


def snapshot_complete(stream: Collector[pb.StreamBarsResponse]) -> bool:
    return any(marker.type == SNAPSHOT_COMPLETE for marker in stream.payloads("marker"))


async def next_bar(server: RunningServer) -> None:
    """Five simulated seconds pass and the price moves: a new five-second bar begins."""
    server.simulator.advance(5)
    await server.simulator.step()


async def test_streams_share_one_subscription_and_get_the_same_bars(
    stopped_clock_server: RunningServer,
) -> None:
    server = stopped_clock_server
    simulator = server.simulator
    market = server.client.market_data
    async with (
        collecting(market.StreamBars(five_second_bars())) as one,
        collecting(market.StreamBars(five_second_bars())) as two,
    ):
        await eventually(lambda: snapshot_complete(one) and snapshot_complete(two))
        assert one.kinds()[0] == "history"
        history = one.payloads("history")[0].bars
        assert len(history) in {12, 13}, "60 s of 5 s bars (and the current one begun)"
        starts = [bar.start_time.seconds for bar in history]
        assert starts == list(range(starts[0], starts[-1] + 5, 5)), "oldest first, every 5 s"
        assert simulator.status().live_bar_subscriptions == 1

        async def current_bar_changed() -> bool:
            await simulator.step()
            return bool(one.payloads("bar") and two.payloads("bar"))

        await eventually(current_bar_changed)
        assert one.payloads("bar")[0].start_time.seconds == starts[-1]
        await next_bar(server)  # a new one begins
        await eventually(lambda: max(held_bars(one)) == starts[-1] + 5)
        await eventually(lambda: held_bars(two) == held_bars(one))
        assert simulator.status().live_bar_subscriptions == 1
        # Different parameters are another subscription.
        other = five_second_bars(seconds=30)
        async with collecting(market.StreamBars(other)) as three:
            await eventually(lambda: snapshot_complete(three))
            assert simulator.status().live_bar_subscriptions == 2

    async def released() -> bool:
        return simulator.status().live_bar_subscriptions == 0

    await eventually(released, within=5, message="the subscriptions were never cancelled")


async def test_the_bars_go_on_across_a_gateway_reconnect(
    stopped_clock_server: RunningServer,
) -> None:
    """The gateway restarts while bars go on at IB: the stream stays open, gets the markers,
    then the bars that changed and began meanwhile, and none it already had."""
    server = stopped_clock_server
    simulator = server.simulator
    async with collecting(server.client.market_data.StreamBars(five_second_bars())) as stream:
        await eventually(lambda: snapshot_complete(stream))
        await next_bar(server)
        await eventually(lambda: stream.payloads("bar"))
        before = held_bars(stream)

        await simulator.refuse_connections(2.0)
        disconnected = common_pb2.STREAM_MARKER_TYPE_GATEWAY_DISCONNECTED
        await eventually(lambda: any(m.type == disconnected for m in stream.payloads("marker")))
        # Fifteen seconds go by at IB: three new bars, and the one that was current finished.
        for _ in range(3):
            await next_bar(server)
        newest = max(before) + 15
        await eventually(
            lambda: any(m.type == RECONCILED for m in stream.payloads("marker")), within=15
        )
        await eventually(lambda: max(held_bars(stream)) == newest, within=10)
        assert stream.error is None

        held = held_bars(stream)
        starts = sorted(held)
        assert starts == list(range(starts[0], newest + 5, 5)), "no bar missing"
        # Nothing sent twice: each bar message after the history changed the client's bar.
        seen: dict[int, pb.Bar] = {}
        for response in stream.responses:
            kind = response.WhichOneof("payload")
            if kind == "history":
                seen.update({bar.start_time.seconds: bar for bar in response.history.bars})
            elif kind == "bar":
                assert seen.get(response.bar.start_time.seconds) != response.bar
                seen[response.bar.start_time.seconds] = response.bar
        # The marker comes first, then the bars of the gap.
        kinds = stream.kinds()
        reconciled_at = next(
            index
            for index, response in enumerate(stream.responses)
            if kinds[index] == "marker" and response.marker.type == RECONCILED
        )
        gap = [
            response.bar.start_time.seconds
            for response in stream.responses[reconciled_at:]
            if response.WhichOneof("payload") == "bar"
        ]
        assert {newest - 10, newest - 5, newest} <= set(gap)
        # One subscription at IB again, for the live bars after the reconnect.
        assert simulator.status().live_bar_subscriptions == 1

        # The live updates go on after the gap.
        await next_bar(server)
        await eventually(lambda: max(held_bars(stream)) == newest + 5)


async def test_bad_bar_requests_fail_before_the_stream_starts(
    stopped_clock_server: RunningServer,
) -> None:
    market = stopped_clock_server.client.market_data
    one_second = five_second_bars()
    one_second.bar_size = pb.BAR_SIZE_1_SECOND
    error, _ = await refusal(market.StreamBars(one_second))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["bar_size"]
    error, _ = await refusal(
        market.StreamBars(
            pb.StreamBarsRequest(contract=stock("AAPL"), bar_size=pb.BAR_SIZE_1_MINUTE)
        )
    )
    assert [v.field for v in error.field_violations] == ["span"]
    too_long = five_second_bars(seconds=int(timedelta(days=1).total_seconds()))
    error, _ = await refusal(market.StreamBars(too_long))
    assert [v.field for v in error.field_violations] == ["span"]
    assert "10000" in error.field_violations[0].description
    assert stopped_clock_server.simulator.status().live_bar_subscriptions == 0
