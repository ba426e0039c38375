"""ibkr.v1.MarketDataService: lookups, quotes, quote streams and historical bars.

The fields' rules are in market_data_service.proto (checked before any servicer runs); here,
besides what api.requests keeps for contracts and times: a history from start_time must start
before its end, or before now (the clock)."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc.aio

from ibkr.v1 import common_pb2, errors_pb2, market_data_service_pb2, market_data_service_pb2_grpc
from ibkr_grpc.api import live_data_messages, requests
from ibkr_grpc.api.bar_messages import BAR_SIZES, BAR_SOURCES, SPAN_UNITS, bar_message
from ibkr_grpc.api.conversions import contract_message, greeks_message, timestamp
from ibkr_grpc.api.stream_messages import heartbeat_message, marker_message
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.errors import ViolationCollector
from ibkr_grpc.domain.market_data import (
    BarSource,
    ContractDetails,
    HistoryRequest,
    MarketDataKind,
    Quote,
    QuoteBatch,
    SpanUnit,
    SubscriptionFailure,
)
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.live_bars import LiveBarsService
from ibkr_grpc.services.market_data import MarketDataService
from ibkr_grpc.services.market_depth import MarketDepthService
from ibkr_grpc.services.tick_streams import TickStreamService

Context = grpc.aio.ServicerContext[Any, Any]
Item = TypeVar("Item")
Response = TypeVar("Response")
pb = market_data_service_pb2

KINDS = {kind: pb.MarketDataKind.Value(f"MARKET_DATA_KIND_{kind.value}") for kind in MarketDataKind}
DEFAULT_SEARCH_RESULTS = 20
MAXIMUM_SEARCH_RESULTS = 50
ENCODED_QUOTES = 4096


def quote_message(quote: Quote) -> pb.Quote:
    return pb.Quote(
        contract=contract_message(quote.contract),
        bid=write_decimal(quote.bid),
        bid_size=write_decimal(quote.bid_size),
        ask=write_decimal(quote.ask),
        ask_size=write_decimal(quote.ask_size),
        last=write_decimal(quote.last),
        last_size=write_decimal(quote.last_size),
        volume=write_decimal(quote.volume),
        high=write_decimal(quote.high),
        low=write_decimal(quote.low),
        open=write_decimal(quote.open),
        close=write_decimal(quote.close),
        market_data_kind=KINDS[quote.kind],
        exchange_time=timestamp(quote.exchange_time),
        receive_time=timestamp(quote.receive_time),
        greeks=greeks_message(quote.greeks),
    )


def details_message(details: ContractDetails) -> pb.ContractDetails:
    return pb.ContractDetails(
        contract=contract_message(details.contract),
        long_name=details.long_name,
        minimum_tick=write_decimal(details.minimum_tick),
        minimum_size=write_decimal(details.minimum_size),
        size_increment=write_decimal(details.size_increment),
        order_types=list(details.order_types),
        valid_exchanges=list(details.valid_exchanges),
        time_zone=details.time_zone,
        trading_hours=details.trading_hours,
        liquid_hours=details.liquid_hours,
        industry=details.industry,
        category=details.category,
        subcategory=details.subcategory,
        stock_type=details.stock_type,
        market_name=details.market_name,
    )


def failure_message(failure: SubscriptionFailure) -> pb.SubscriptionError:
    reason = f"ERROR_REASON_{failure.reason}"
    known = reason in errors_pb2.ErrorReason.keys()  # noqa: SIM118  an enum wrapper, not a dict
    return pb.SubscriptionError(
        contract=contract_message(failure.contract),
        reason=errors_pb2.ErrorReason.Value(reason)
        if known
        else errors_pb2.ERROR_REASON_UNSPECIFIED,
        message=failure.message,
    )


def _read_history(request: pb.GetHistoricalBarsRequest) -> HistoryRequest:
    """The rules have checked the fields, and that span or start_time is given."""
    violations = ViolationCollector()
    contract = requests.read_contract(
        violations,
        "contract",
        request.contract,
        present=request.HasField("contract"),
        use=requests.ContractUse.HISTORY,
    )
    end = None
    if request.HasField("end_time"):
        end = requests.read_timestamp(violations, "end_time", request.end_time)
    count, unit = 0, SpanUnit.DAYS
    if request.HasField("span"):
        count, unit = request.span.count, SPAN_UNITS[request.span.unit]
    else:
        start = requests.read_timestamp(violations, "start_time", request.start_time)
        if start is not None:  # else read_timestamp has reported it
            count, unit = _span_since(violations, start, end)
    violations.raise_if_any()
    assert contract is not None  # noqa: S101  its absence is a violation above
    return HistoryRequest(
        contract,
        BAR_SIZES[request.bar_size],
        count,
        unit,
        end,
        BAR_SOURCES.get(request.source, BarSource.TRADES),
        request.regular_trading_hours_only,
    )


def _span_since(
    violations: ViolationCollector, start: datetime, end: datetime | None
) -> tuple[int, SpanUnit]:
    seconds = math.ceil(((end or datetime.now(UTC)) - start).total_seconds())
    if seconds <= 0:
        violations.add("start_time", "must be before end_time (or now)")
        return 0, SpanUnit.DAYS
    if seconds <= 86_400:
        return seconds, SpanUnit.SECONDS
    return math.ceil(seconds / 86_400), SpanUnit.DAYS


@dataclass(frozen=True, slots=True)
class LiveStreams:
    """The services behind the order-book, tick-by-tick and live-bar streams."""

    depth: MarketDepthService
    ticks: TickStreamService
    bars: LiveBarsService


class MarketDataServicer(market_data_service_pb2_grpc.MarketDataServiceServicer):
    def __init__(self, market_data: MarketDataService, live: LiveStreams) -> None:
        self._market_data = market_data
        self._live = live
        # One quote goes to every stream that watches its contract: encode it once. Keyed by
        # identity, holding the quote so its id cannot be reused while cached; bounded.
        self._encoded: dict[int, tuple[Quote, pb.StreamQuotesResponse]] = {}

    def _quote_response(self, quote: Quote) -> pb.StreamQuotesResponse:
        cached = self._encoded.get(id(quote))
        if cached is not None and cached[0] is quote:
            return cached[1]
        if len(self._encoded) >= ENCODED_QUOTES:
            self._encoded.clear()
        response = pb.StreamQuotesResponse(quote=quote_message(quote))
        self._encoded[id(quote)] = (quote, response)
        return response

    async def SearchContracts(
        self, request: pb.SearchContractsRequest, context: Context
    ) -> pb.SearchContractsResponse:
        limit = min(request.page_size or DEFAULT_SEARCH_RESULTS, MAXIMUM_SEARCH_RESULTS)
        matches = await self._market_data.search(request.query.strip(), limit)
        return pb.SearchContractsResponse(
            contracts=[
                pb.ContractDescription(
                    contract=contract_message(match.contract),
                    description=match.description,
                    derivative_security_types=[
                        common_pb2.SecurityType.Value(f"SECURITY_TYPE_{kind}")
                        for kind in _derivative_types(match.derivative_security_types)
                    ],
                )
                for match in matches
            ]
        )

    async def GetContractDetails(
        self, request: pb.GetContractDetailsRequest, context: Context
    ) -> pb.GetContractDetailsResponse:
        violations = ViolationCollector()
        contract = requests.read_contract(
            violations,
            "contract",
            request.contract,
            present=request.HasField("contract"),
            use=requests.ContractUse.LOOKUP,
        )
        violations.raise_if_any()
        assert contract is not None  # noqa: S101
        found = await self._market_data.details(contract)
        return pb.GetContractDetailsResponse(details=[details_message(item) for item in found])

    async def GetQuote(self, request: pb.GetQuoteRequest, context: Context) -> pb.GetQuoteResponse:
        violations = ViolationCollector()
        contract = requests.read_contract(
            violations, "contract", request.contract, present=request.HasField("contract")
        )
        violations.raise_if_any()
        assert contract is not None  # noqa: S101
        return pb.GetQuoteResponse(quote=quote_message(await self._market_data.quote(contract)))

    async def GetHistoricalBars(
        self, request: pb.GetHistoricalBarsRequest, context: Context
    ) -> pb.GetHistoricalBarsResponse:
        history = _read_history(request)
        bars = await self._market_data.bars(history)
        qualified = await self._market_data.qualify(history.contract)
        return pb.GetHistoricalBarsResponse(
            contract=contract_message(qualified),
            bar_size=request.bar_size,
            bars=[bar_message(bar) for bar in bars],
        )

    def StreamQuotes(
        self, request: pb.StreamQuotesRequest, context: Context
    ) -> AsyncIterator[pb.StreamQuotesResponse]:
        # Validates now and returns the stream: a bad request fails before anything is sent.
        violations = ViolationCollector()
        contracts = []
        for index, message in enumerate(request.contracts):
            contract = requests.read_contract(
                violations, f"contracts[{index}]", message, present=True
            )
            if contract is not None:
                contracts.append(contract)
        heartbeat = requests.read_heartbeat_interval(
            violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
        )
        violations.raise_if_any()
        return self._quotes(contracts, heartbeat, max(request.max_quotes_per_message, 1))

    async def _quotes(
        self, contracts: list[ContractSpec], heartbeat: timedelta, batch: int
    ) -> AsyncIterator[pb.StreamQuotesResponse]:
        stream = self._market_data.stream(contracts, heartbeat, batch=batch)
        async with aclosing(stream) as items:
            async for item in items:
                if isinstance(item, Quote):
                    yield self._quote_response(item)
                elif isinstance(item, QuoteBatch):
                    quotes = [self._quote_response(quote).quote for quote in item.quotes]
                    yield pb.StreamQuotesResponse(quotes=pb.QuoteBatch(quotes=quotes))
                elif isinstance(item, SubscriptionFailure):
                    yield pb.StreamQuotesResponse(subscription_error=failure_message(item))
                elif isinstance(item, Heartbeat):
                    yield pb.StreamQuotesResponse(heartbeat=heartbeat_message(item))
                else:
                    yield pb.StreamQuotesResponse(marker=marker_message(item))

    # Each stream validates its request now and returns its stream: a bad request fails before
    # anything is sent (a trailers-only INVALID_ARGUMENT; over HTTP a 400, not a 200).

    def StreamMarketDepth(
        self, request: pb.StreamMarketDepthRequest, context: Context
    ) -> AsyncIterator[pb.StreamMarketDepthResponse]:
        contract, rows, heartbeat = live_data_messages.read_depth_request(request)
        return self._converted(
            self._live.depth.stream(contract, rows, heartbeat), live_data_messages.depth_response
        )

    def StreamTicks(
        self, request: pb.StreamTicksRequest, context: Context
    ) -> AsyncIterator[pb.StreamTicksResponse]:
        contract, tick_type, heartbeat = live_data_messages.read_ticks_request(request)
        return self._converted(
            self._live.ticks.stream(contract, tick_type, heartbeat),
            live_data_messages.tick_response,
        )

    def StreamBars(
        self, request: pb.StreamBarsRequest, context: Context
    ) -> AsyncIterator[pb.StreamBarsResponse]:
        bars, heartbeat = live_data_messages.read_bars_request(request)
        return self._converted(
            self._live.bars.stream(bars, heartbeat), live_data_messages.bars_response
        )

    @staticmethod
    async def _converted(
        stream: AsyncGenerator[Item], convert: Callable[[Item], Response]
    ) -> AsyncIterator[Response]:
        async with aclosing(stream) as items:
            async for item in items:
                yield convert(item)


_IB_SECURITY_TYPES = {
    "STK": "STOCK",
    "OPT": "OPTION",
    "FUT": "FUTURE",
    "FOP": "FUTURE_OPTION",
    "CFD": "CFD",
    "CASH": "FOREX",
    "IND": "INDEX",
    "CRYPTO": "CRYPTO",
}


def _derivative_types(codes: tuple[str, ...]) -> list[str]:
    return [_IB_SECURITY_TYPES[code] for code in codes if code in _IB_SECURITY_TYPES]
