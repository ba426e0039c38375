"""MarketDataService end to end: lookups, quotes, shared lines, streams and bars."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.protobuf import duration_pb2

from ibkr.v1 import common_pb2, errors_pb2, gateway_service_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_client import ApiError, IbkrClient
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from tests.server.conftest import RunningServer, mint, running_server
from tests.server.test_metrics import scrape, value
from tests.support.databases import migrated_database
from tests.support.waiting import eventually


def stock(symbol: str) -> common_pb2.Contract:
    return common_pb2.Contract(symbol=symbol, security_type=common_pb2.SECURITY_TYPE_STOCK)


class QuoteCollector:
    def __init__(
        self,
        server: RunningServer,
        symbols: list[str],
        heartbeat_seconds: int = 0,
        quotes_per_message: int = 0,
    ) -> None:
        request = pb.StreamQuotesRequest(
            contracts=[stock(symbol) for symbol in symbols],
            max_quotes_per_message=quotes_per_message,
        )
        if heartbeat_seconds:
            request.heartbeat_interval.CopyFrom(duration_pb2.Duration(seconds=heartbeat_seconds))
        self.responses: list[pb.StreamQuotesResponse] = []
        self._call = server.client.market_data.StreamQuotes(request)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for response in self._call:
            self.responses.append(response)

    def symbols(self) -> set[str]:
        return {
            r.quote.contract.symbol for r in self.responses if r.WhichOneof("payload") == "quote"
        }

    def kinds(self) -> list[str | None]:
        return [r.WhichOneof("payload") for r in self.responses]

    async def close(self) -> None:
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def streaming(
    server: RunningServer, symbols: list[str], heartbeat_seconds: int = 0
) -> AsyncIterator[QuoteCollector]:
    collector = QuoteCollector(server, symbols, heartbeat_seconds)
    try:
        yield collector
    finally:
        await collector.close()


async def lines_in_use(server: RunningServer) -> int:
    status = await server.client.gateway.GetGatewayStatus(
        gateway_service_pb2.GetGatewayStatusRequest()
    )
    return status.status.market_data_lines_in_use


async def test_search_details_and_quote(server: RunningServer) -> None:
    found = await server.client.market_data.SearchContracts(pb.SearchContractsRequest(query="AAP"))
    assert "AAPL" in [match.contract.symbol for match in found.contracts]
    details = await server.client.market_data.GetContractDetails(
        pb.GetContractDetailsRequest(contract=stock("AAPL"))
    )
    assert len(details.details) == 1
    assert details.details[0].contract.con_id > 0
    assert details.details[0].minimum_tick
    quote = await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=stock("AAPL")))
    assert float(quote.quote.bid) > 0
    assert float(quote.quote.ask) >= float(quote.quote.bid)
    assert quote.quote.receive_time.seconds > 0


async def test_an_unknown_contract_is_not_found(server: RunningServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=stock("NOSUCHTHING")))
    assert ApiError.from_rpc_error(raised.value).reason == "IB_INVALID_CONTRACT"


async def test_streams_share_one_line_per_contract(server: RunningServer) -> None:
    async with streaming(server, ["AAPL", "MSFT"]) as first, streaming(server, ["AAPL"]) as second:
        for _ in range(3):
            await server.simulator.step()
        await eventually(
            lambda: first.symbols() == {"AAPL", "MSFT"} and second.symbols() == {"AAPL"}
        )
        assert await lines_in_use(server) == 2
    # Lines linger briefly after the last watcher leaves, then close.

    async def released() -> bool:
        return await lines_in_use(server) == 0

    await eventually(released, within=5, message="the lines were never released")


async def test_a_bad_contract_is_reported_in_the_stream_and_the_rest_goes_on(
    server: RunningServer,
) -> None:
    async with streaming(server, ["NOSUCHTHING", "AAPL"]) as collector:
        await server.simulator.step()
        await eventually(lambda: "AAPL" in collector.symbols())
        errors = [
            r.subscription_error
            for r in collector.responses
            if r.WhichOneof("payload") == "subscription_error"
        ]
        assert [e.contract.symbol for e in errors] == ["NOSUCHTHING"]
        assert errors[0].reason == errors_pb2.ERROR_REASON_IB_INVALID_CONTRACT


async def test_an_idle_stream_sends_heartbeats(server: RunningServer) -> None:
    async with streaming(server, ["AAPL"], heartbeat_seconds=1) as collector:
        await eventually(lambda: collector.kinds().count("heartbeat") >= 1, within=5)


async def test_historical_bars(server: RunningServer) -> None:
    response = await server.client.market_data.GetHistoricalBars(
        pb.GetHistoricalBarsRequest(
            contract=stock("AAPL"),
            bar_size=pb.BAR_SIZE_5_MINUTES,
            span=pb.HistorySpan(count=1, unit=pb.SPAN_UNIT_DAYS),
        )
    )
    assert len(response.bars) > 10
    bar = response.bars[-1]
    assert float(bar.low) <= float(bar.open) <= float(bar.high)
    assert response.contract.con_id > 0
    starts = [b.start_time.seconds for b in response.bars]
    assert starts == sorted(starts)


async def test_bad_history_requests_get_field_violations(server: RunningServer) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await server.client.market_data.GetHistoricalBars(
            pb.GetHistoricalBarsRequest(contract=stock("AAPL"))
        )
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert {v.field for v in error.field_violations} == {"bar_size", "span"}


async def test_a_burst_of_history_requests_is_paced_instead_of_refused_by_ib(
    server: RunningServer,
) -> None:
    # The simulator answers IB's error 162 to more than 6 requests for one contract in 2 s.
    requests = [
        pb.GetHistoricalBarsRequest(
            contract=stock("MSFT"),
            bar_size=pb.BAR_SIZE_1_HOUR,
            span=pb.HistorySpan(count=days, unit=pb.SPAN_UNIT_DAYS),
        )
        for days in range(1, 9)
    ]
    responses = await asyncio.gather(
        *(server.client.market_data.GetHistoricalBars(request, timeout=30) for request in requests)
    )
    assert all(response.bars for response in responses)


async def test_past_the_line_limit_a_stream_is_refused_with_a_quota_failure(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database, market_data_line_limit=2) as server,
        streaming(server, ["AAPL", "MSFT"]) as holding,
    ):
        await simulator.step()
        await eventually(lambda: holding.symbols() == {"AAPL", "MSFT"})
        call = server.client.market_data.StreamQuotes(
            pb.StreamQuotesRequest(contracts=[stock("SPY")])
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in call:
                pass
        error = ApiError.from_rpc_error(raised.value)
        assert (error.code, error.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MARKET_DATA_LINE_LIMIT_EXCEEDED",
        )
        assert error.metadata["limit"] == "2"
        # Watching contracts that already have lines needs no new line.
        async with streaming(server, ["AAPL"]) as sharing:
            await simulator.step()
            await eventually(lambda: sharing.symbols() == {"AAPL"})


async def test_a_quote_stream_survives_a_gateway_reconnect(server: RunningServer) -> None:
    async with streaming(server, ["AAPL"]) as collector:
        await server.simulator.step()
        await eventually(lambda: collector.kinds().count("quote") >= 1)
        await server.simulator.drop_connections()
        reconciled = common_pb2.STREAM_MARKER_TYPE_GATEWAY_RECONCILED
        await eventually(
            lambda: any(r.marker.type == reconciled for r in collector.responses), within=15
        )
        await server.simulator.step()
        await server.simulator.step()

        def quotes_after_reconnect() -> bool:
            latest = collector.kinds()
            last_marker = max(i for i, kind in enumerate(latest) if kind == "marker")
            return "quote" in latest[last_marker:]

        await eventually(quotes_after_reconnect, message="no quote after the reconnect")
        markers = [
            r.marker.type for r in collector.responses if r.WhichOneof("payload") == "marker"
        ]
        assert markers[:2] == [common_pb2.STREAM_MARKER_TYPE_GATEWAY_DISCONNECTED, reconciled]


async def test_a_burst_of_streams_costs_ib_one_lookup_per_contract_and_one_line_per_known_one(
    server: RunningServer,
) -> None:
    """Every screen reconnecting at once (after a restart, say) must not queue thousands of
    duplicate contract lookups behind the shared 45/s request limiter."""
    before = await scrape(server)
    collectors = [QuoteCollector(server, ["AAPL", "MSFT", "SPY", "NOSUCHTHING"]) for _ in range(60)]
    try:

        async def all_quoting() -> bool:
            await server.simulator.step()
            return all(
                c.symbols() == {"AAPL", "MSFT", "SPY"} and "subscription_error" in c.kinds()
                for c in collectors
            )

        await eventually(all_quoting, within=10, message="not every stream got its quotes")
        # A contract IB does not know is remembered for a while too.
        async with streaming(server, ["NOSUCHTHING"]) as late:
            await eventually(lambda: "subscription_error" in late.kinds())
        after = await scrape(server)
    finally:
        await asyncio.gather(*(collector.close() for collector in collectors))

    def sent(kind: str) -> float:
        return value(after, "ib_requests_total", kind=kind) - value(
            before, "ib_requests_total", kind=kind
        )

    assert sent("contract_details") == 4
    assert sent("market_data") == 3


async def test_a_stream_that_stops_reading_is_conflated_and_holds_back_no_one(
    server: RunningServer,
) -> None:
    """A reader that falls behind gets the newest quote per contract when it reads again (not
    a backlog of everything it missed), and a stream on the same contracts keeps up meanwhile."""
    request = pb.StreamQuotesRequest(contracts=[stock("AAPL"), stock("MSFT")])
    reader = IbkrClient.connect(
        f"127.0.0.1:{server.application.port}",
        token=mint(Role.VIEWER),
        channel_options=[("grpc.http2.bdp_probe", 0)],
    )
    stalled = reader.market_data.StreamQuotes(request)
    async with reader, streaming(server, ["AAPL", "MSFT"]) as live:
        await server.simulator.step()
        await eventually(lambda: live.symbols() == {"AAPL", "MSFT"})
        first = await stalled.read()  # the stream is open; now it stops reading
        assert isinstance(first, pb.StreamQuotesResponse)
        before = await scrape(server)
        price = 100.0
        changes = 2_500
        for step in range(changes):
            price = 100.0 + step / 100
            server.simulator.set_price("AAPL", price)
            # One change per read of the IB socket, so that each reaches the streams.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        final = f"{price:.2f}"

        def last_aapl(responses: list[pb.StreamQuotesResponse]) -> str | None:
            quotes = [
                r.quote.last
                for r in responses
                if r.WhichOneof("payload") == "quote" and r.quote.contract.symbol == "AAPL"
            ]
            return quotes[-1] if quotes else None

        # The live stream reaches the newest price while the stalled one reads nothing.
        await eventually(lambda: last_aapl(live.responses) == final, within=10)
        # The stalled stream reads again: what the transport held, then straight to the newest.
        drained: list[pb.StreamQuotesResponse] = []
        async with asyncio.timeout(10):
            while last_aapl(drained) != final:
                response = await stalled.read()
                assert isinstance(response, pb.StreamQuotesResponse)
                drained.append(response)
        after = await scrape(server)
        stalled.cancel()
    assert len(drained) < changes / 2
    assert value(after, "quotes_conflated_total") - value(before, "quotes_conflated_total") > 0


async def test_streams_cancelled_while_quotes_flow_end_as_cancelled(server: RunningServer) -> None:
    """A client that cancels while the server is sending ends its call as CANCELLED: not as a
    server error, and without an error logged for it. The metric's label is Go's spelling,
    `Canceled`, as go-grpc-prometheus writes it."""

    def outcomes(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
        counts: dict[str, float] = {}
        for (name, labels), count in samples.items():
            label = dict(labels)
            if name == "grpc_server_handled_total" and label["grpc_method"] == "StreamQuotes":
                counts[label["grpc_code"]] = count
        return counts

    before = outcomes(await scrape(server))
    collectors = [QuoteCollector(server, ["AAPL", "MSFT", "SPY"]) for _ in range(40)]

    async def all_quoting() -> bool:
        await server.simulator.step()
        return all(c.symbols() == {"AAPL", "MSFT", "SPY"} for c in collectors)

    await eventually(all_quoting, within=10)

    async def feed() -> None:
        while True:
            await server.simulator.step()
            await asyncio.sleep(0)

    feeding = asyncio.create_task(feed())
    try:
        for collector in collectors:
            await collector.close()
            await asyncio.sleep(0.005)

        async def all_ended() -> bool:
            after = outcomes(await scrape(server))
            return after.get("Canceled", 0) - before.get("Canceled", 0) == len(collectors)

        await eventually(all_ended, within=10, message="not every stream ended as CANCELLED")
    finally:
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
    after = outcomes(await scrape(server))
    assert {code for code in after if after[code] != before.get(code, 0)} == {"Canceled"}


async def test_a_stream_can_take_its_waiting_quotes_in_one_message(server: RunningServer) -> None:
    """With max_quotes_per_message, every quote waiting at a write goes in one QuoteBatch, each
    the latest of its contract: fewer, larger messages, the same newest prices."""
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "SPY"]
    collector = QuoteCollector(server, symbols, quotes_per_message=10)
    try:
        for _ in range(5):
            await server.simulator.step()
        responses = collector.responses

        def batched() -> list[pb.Quote]:
            return [
                quote
                for response in responses
                if response.WhichOneof("payload") == "quotes"
                for quote in response.quotes.quotes
            ]

        await eventually(lambda: {q.contract.symbol for q in batched()} == set(symbols))
        assert "quote" not in collector.kinds()
        assert any(
            len(r.quotes.quotes) > 1 for r in responses if r.WhichOneof("payload") == "quotes"
        )
        for symbol in symbols:
            newest = [q for q in batched() if q.contract.symbol == symbol][-1]
            expected = server.simulator.quote(symbol)
            assert Decimal(newest.last) == Decimal(str(expected.last))
    finally:
        await collector.close()


async def test_too_many_quotes_per_message_is_refused(server: RunningServer) -> None:
    request = pb.StreamQuotesRequest(contracts=[stock("AAPL")], max_quotes_per_message=101)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in server.client.market_data.StreamQuotes(request):
            pass
    error = ApiError.from_rpc_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["max_quotes_per_message"]


async def test_quotes_flow_again_after_ib_comes_back_with_data_lost(server: RunningServer) -> None:
    """1101: IB's link came back but the gateway dropped every market-data subscription ("market
    data requests have been lost and need to be re-submitted":
    https://interactivebrokers.github.io/tws-api/message_codes.html); the server reopens them."""
    async with streaming(server, ["AAPL"]) as collector:
        await server.simulator.step()
        await eventually(lambda: collector.kinds().count("quote") >= 1)
        server.simulator.connectivity_lost()
        server.simulator.connectivity_restored(data_lost=True)
        seen = collector.kinds().count("quote")

        async def quotes_again() -> bool:
            await server.simulator.step()
            return collector.kinds().count("quote") > seen + 1

        await eventually(quotes_again, within=15, message="no quotes after 1101")
