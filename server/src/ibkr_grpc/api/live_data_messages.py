"""Market depth, tick-by-tick and live-bar streams at the edge: their requests read, their
items written as ibkr.v1 messages. The requests' rules are in market_data_service.proto
(checked before any servicer runs); what api.requests keeps for contracts and heartbeats is
checked here."""

from __future__ import annotations

from datetime import timedelta

from ibkr.v1 import market_data_service_pb2 as pb
from ibkr_grpc.api import requests
from ibkr_grpc.api.bar_messages import BAR_SIZES, BAR_SOURCES, SPAN_UNITS, bar_message
from ibkr_grpc.api.conversions import contract_message, timestamp
from ibkr_grpc.api.stream_messages import heartbeat_message, marker_message
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.errors import ViolationCollector
from ibkr_grpc.domain.live_data import (
    BarHistory,
    BidAskTick,
    DepthBook,
    DepthChanges,
    DepthLevel,
    DepthSnapshot,
    LiveBarsRequest,
    MidpointTick,
    TicksDropped,
    TickType,
    TradeTick,
)
from ibkr_grpc.domain.market_data import Bar, BarSource
from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.market_depth import DepthStreamItem
from ibkr_grpc.services.tick_streams import TickStreamItem

DEFAULT_DEPTH_ROWS = 5
TICK_TYPES = {
    pb.TICK_TYPE_LAST: TickType.LAST,
    pb.TICK_TYPE_ALL_LAST: TickType.ALL_LAST,
    pb.TICK_TYPE_BID_ASK: TickType.BID_ASK,
    pb.TICK_TYPE_MIDPOINT: TickType.MIDPOINT,
}


StreamRequest = pb.StreamTicksRequest | pb.StreamBarsRequest | pb.StreamMarketDepthRequest


def _contract(violations: ViolationCollector, request: StreamRequest) -> ContractSpec | None:
    return requests.read_contract(
        violations, "contract", request.contract, present=request.HasField("contract")
    )


def _heartbeat(violations: ViolationCollector, request: StreamRequest) -> timedelta:
    return requests.read_heartbeat_interval(
        violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
    )


# ---- market depth -------------------------------------------------------------------------


def read_depth_request(
    request: pb.StreamMarketDepthRequest,
) -> tuple[ContractSpec, int, timedelta]:
    violations = ViolationCollector()
    contract = _contract(violations, request)
    rows = request.rows or DEFAULT_DEPTH_ROWS
    heartbeat = _heartbeat(violations, request)
    violations.raise_if_any()
    assert contract is not None  # noqa: S101  its absence is a violation above
    return contract, rows, heartbeat


def _level(level: DepthLevel) -> pb.MarketDepthLevel:
    return pb.MarketDepthLevel(
        price=write_decimal(level.price),
        size=write_decimal(level.size),
        venues=[
            pb.MarketDepthVenue(venue=venue.venue, size=write_decimal(venue.size))
            for venue in level.venues
        ],
    )


def _book(snapshot: DepthSnapshot) -> pb.MarketDepthBook:
    book: DepthBook = snapshot.book
    return pb.MarketDepthBook(
        contract=contract_message(snapshot.contract),
        bids=[_level(level) for level in book.bids],
        asks=[_level(level) for level in book.asks],
        receive_time=timestamp(book.receive_time),
    )


def depth_response(item: DepthStreamItem) -> pb.StreamMarketDepthResponse:
    if isinstance(item, DepthSnapshot):
        return pb.StreamMarketDepthResponse(book=_book(item))
    if isinstance(item, DepthChanges):
        return pb.StreamMarketDepthResponse(
            update=pb.MarketDepthUpdate(
                bids=[_level(level) for level in item.bids],
                asks=[_level(level) for level in item.asks],
                receive_time=timestamp(item.receive_time),
            )
        )
    if isinstance(item, Heartbeat):
        return pb.StreamMarketDepthResponse(heartbeat=heartbeat_message(item))
    return pb.StreamMarketDepthResponse(marker=marker_message(item))


# ---- tick-by-tick -------------------------------------------------------------------------


def read_ticks_request(request: pb.StreamTicksRequest) -> tuple[ContractSpec, TickType, timedelta]:
    violations = ViolationCollector()
    contract = _contract(violations, request)
    heartbeat = _heartbeat(violations, request)
    violations.raise_if_any()
    assert contract is not None  # noqa: S101  its absence is a violation above
    return contract, TICK_TYPES[request.tick_type], heartbeat


def tick_response(item: TickStreamItem) -> pb.StreamTicksResponse:
    if isinstance(item, TradeTick):
        return pb.StreamTicksResponse(
            trade=pb.TradeTick(
                time=timestamp(item.time),
                price=write_decimal(item.price),
                size=write_decimal(item.size),
                exchange=item.exchange,
                special_conditions=item.special_conditions,
                past_limit=item.past_limit,
                unreported=item.unreported,
            )
        )
    if isinstance(item, BidAskTick):
        return pb.StreamTicksResponse(
            bid_ask=pb.BidAskTick(
                time=timestamp(item.time),
                bid_price=write_decimal(item.bid_price),
                bid_size=write_decimal(item.bid_size),
                ask_price=write_decimal(item.ask_price),
                ask_size=write_decimal(item.ask_size),
            )
        )
    if isinstance(item, MidpointTick):
        return pb.StreamTicksResponse(
            midpoint=pb.MidpointTick(
                time=timestamp(item.time), midpoint=write_decimal(item.midpoint)
            )
        )
    if isinstance(item, TicksDropped):
        return pb.StreamTicksResponse(dropped=pb.TicksDropped(count=item.count))
    if isinstance(item, Heartbeat):
        return pb.StreamTicksResponse(heartbeat=heartbeat_message(item))
    return pb.StreamTicksResponse(marker=marker_message(item))


# ---- live bars ----------------------------------------------------------------------------


def read_bars_request(request: pb.StreamBarsRequest) -> tuple[LiveBarsRequest, timedelta]:
    violations = ViolationCollector()
    contract = _contract(violations, request)
    heartbeat = _heartbeat(violations, request)
    violations.raise_if_any()
    assert contract is not None  # noqa: S101  its absence is a violation above
    # The rules bound the span to what a stream holds (MAXIMUM_LIVE_BARS, as bars_in_span
    # counts them) and the bar to SMALLEST_LIVE_BAR or more.
    live = LiveBarsRequest(
        contract=contract,
        bar_size=BAR_SIZES[request.bar_size],
        span_count=request.span.count,
        span_unit=SPAN_UNITS[request.span.unit],
        source=BAR_SOURCES.get(request.source, BarSource.TRADES),
        regular_trading_hours_only=request.regular_trading_hours_only,
    )
    return live, heartbeat


def bars_response(item: BarHistory | Bar | Heartbeat | Marker) -> pb.StreamBarsResponse:
    if isinstance(item, BarHistory):
        return pb.StreamBarsResponse(
            history=pb.BarHistory(bars=[bar_message(bar) for bar in item.bars])
        )
    if isinstance(item, Bar):
        return pb.StreamBarsResponse(bar=bar_message(item))
    if isinstance(item, Heartbeat):
        return pb.StreamBarsResponse(heartbeat=heartbeat_message(item))
    return pb.StreamBarsResponse(marker=marker_message(item))
