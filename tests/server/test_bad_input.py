"""Bad input gets a clear catalogue error, never INTERNAL or UNKNOWN: undecodable bytes,
Timestamps and Durations out of protobuf's range, and values too long to echo (issue #14)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.protobuf.message import Message

from ibkr.v1 import (
    common_pb2,
    gateway_service_pb2,
    market_data_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)
from ibkr_client import ApiError
from ibkr_grpc.domain.identity import Role
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, mint, running_server
from tests.support.databases import migrated_database

# Past 9999-12-31T23:59:59Z, the last second a google.protobuf.Timestamp can hold.
AFTER_YEAR_9999 = 253_402_300_800
HUGE_SECONDS = 2**62
# Bytes no request message decodes: field 1 (a string in every request below) with bad UTF-8.
BAD_UTF8 = b"\x0a\x02\xff\xfe"
TRUNCATED = b"\x0a\x05ab"


@pytest.fixture
async def server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as running,
    ):
        yield running


async def refused(call: Awaitable[Any]) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return ApiError.from_rpc_error(raised.value)


async def stream_refused(responses: AsyncIterable[Any]) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in responses:
            pass
    return ApiError.from_rpc_error(raised.value)


def fields_of(error: ApiError) -> set[str]:
    return {violation.field for violation in error.field_violations}


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    """A bare channel: no client interceptor, the bytes sent exactly as given."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.application.port}") as bare:
        yield bare


def _metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


async def raw_call(
    channel: grpc.aio.Channel, method: str, data: bytes, token: str | None
) -> ApiError:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    return await refused(call(data, metadata=_metadata(token), timeout=10))


@pytest.mark.parametrize("data", [BAD_UTF8, TRUNCATED], ids=["bad-utf8", "truncated"])
async def test_undecodable_bytes_are_invalid_argument_after_authentication(
    channel: grpc.aio.Channel, data: bytes
) -> None:
    method = "/ibkr.v1.OrderService/GetOrder"
    anonymous = await raw_call(channel, method, data, None)
    assert anonymous.code == grpc.StatusCode.UNAUTHENTICATED, "authentication comes first"

    error = await raw_call(channel, method, data, mint(Role.VIEWER))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert error.reason == "VALIDATION_ERROR"
    assert "ibkr.v1.GetOrderRequest" in error.message
    assert error.request_id, "the request id comes with an error sent before any metadata"


async def test_undecodable_bytes_on_a_stream_are_invalid_argument(
    channel: grpc.aio.Channel,
) -> None:
    call = channel.unary_stream(
        "/ibkr.v1.OrderService/StreamOrderEvents",
        request_serializer=None,
        response_deserializer=None,
    )
    metadata = _metadata(mint(Role.VIEWER))
    error = await stream_refused(call(b"\x1a\x03\xff\xff\xff", metadata=metadata, timeout=10))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert error.reason == "VALIDATION_ERROR"


async def test_undecodable_bytes_on_a_mutating_call_are_refused_and_audited(
    channel: grpc.aio.Channel,
) -> None:
    # PlaceOrder is audited: the audit records the refusal of an empty request.
    method = "/ibkr.v1.OrderService/PlaceOrder"
    error = await raw_call(channel, method, TRUNCATED, mint(Role.TRADER))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error


def timestamp(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


async def test_timestamps_out_of_range_are_field_violations(server: RunningServer) -> None:
    orders = server.client.orders
    error = await refused(
        orders.ListOrders(order_service_pb2.ListOrdersRequest(end_time=timestamp(AFTER_YEAR_9999)))
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert fields_of(error) == {"end_time"}

    error = await refused(
        orders.ListFills(order_service_pb2.ListFillsRequest(start_time=timestamp(0, -1)))
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert fields_of(error) == {"start_time.nanos"}

    error = await refused(
        orders.ListOrders(
            order_service_pb2.ListOrdersRequest(
                start_time=timestamp(-(2**62)), end_time=timestamp(0)
            )
        )
    )
    assert fields_of(error) == {"start_time"}


@pytest.mark.parametrize(
    "request_fields",
    [
        {"end_time": timestamp(AFTER_YEAR_9999), "span": {"count": 1, "unit": 1}},
        {"start_time": timestamp(HUGE_SECONDS)},
        {"start_time": timestamp(0, 2**31 - 1)},
    ],
    ids=["end-after-9999", "start-huge", "start-nanos"],
)
async def test_historical_bars_with_a_bad_time_are_field_violations(
    server: RunningServer, request_fields: dict[str, Any]
) -> None:
    request = market_data_service_pb2.GetHistoricalBarsRequest(
        contract=common_pb2.Contract(symbol="AAPL"),
        bar_size=market_data_service_pb2.BAR_SIZE_1_HOUR,
        **request_fields,
    )
    error = await refused(server.client.market_data.GetHistoricalBars(request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert fields_of(error) <= {"end_time", "start_time", "start_time.nanos"}
    assert fields_of(error)


def huge_heartbeat() -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=HUGE_SECONDS)


def _streams(server: RunningServer) -> dict[str, Callable[[], AsyncIterable[Message]]]:
    client = server.client
    heartbeat = huge_heartbeat()
    return {
        "orders": lambda: client.orders.StreamOrderEvents(
            order_service_pb2.StreamOrderEventsRequest(heartbeat_interval=heartbeat)
        ),
        "portfolio": lambda: client.portfolio.StreamPortfolio(
            portfolio_service_pb2.StreamPortfolioRequest(
                account=ACCOUNT, heartbeat_interval=heartbeat
            )
        ),
        "quotes": lambda: client.market_data.StreamQuotes(
            market_data_service_pb2.StreamQuotesRequest(
                contracts=[common_pb2.Contract(symbol="AAPL")], heartbeat_interval=heartbeat
            )
        ),
        "gateway": lambda: client.gateway.StreamGatewayStatus(
            gateway_service_pb2.StreamGatewayStatusRequest(heartbeat_interval=heartbeat)
        ),
        "trading": lambda: client.risk.StreamTradingState(
            risk_service_pb2.StreamTradingStateRequest(heartbeat_interval=heartbeat)
        ),
    }


@pytest.mark.parametrize("stream", ["orders", "portfolio", "quotes", "gateway", "trading"])
async def test_every_stream_refuses_a_heartbeat_beyond_a_duration(
    server: RunningServer, stream: str
) -> None:
    responses = _streams(server)[stream]()
    error = await stream_refused(responses)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert fields_of(error) == {"heartbeat_interval"}
    assert error.request_id


async def test_a_stream_refused_for_bad_input_sends_no_initial_metadata(
    server: RunningServer,
) -> None:
    call = server.client.orders.StreamOrderEvents(
        order_service_pb2.StreamOrderEventsRequest(after_sequence=-1)
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in call:
            pass
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # A trailers-only response: what lets Envoy's transcoder answer an HTTP error status.
    assert not raised.value.initial_metadata()
    assert ApiError.from_rpc_error(raised.value).request_id, "it comes in the trailers"


@pytest.mark.parametrize("seconds", [2**40, HUGE_SECONDS])
async def test_a_rejection_window_out_of_bounds_is_refused_and_nothing_changes(
    server: RunningServer, seconds: int
) -> None:
    before = await server.client.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())
    request = risk_service_pb2.UpdateRiskLimitsRequest(
        limits=risk_service_pb2.RiskLimits(rejection_window=duration_pb2.Duration(seconds=seconds)),
        update_mask=field_mask_pb2.FieldMask(paths=["rejection_window"]),
    )
    error = await refused(server.client.risk.UpdateRiskLimits(request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert fields_of(error) == {"limits.rejection_window"}
    after = await server.client.risk.GetRiskLimits(risk_service_pb2.GetRiskLimitsRequest())
    assert after.limits == before.limits


async def test_a_huge_value_is_cut_short_in_the_error(server: RunningServer) -> None:
    request = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=common_pb2.Contract(symbol="AAPL"),
        side=common_pb2.SIDE_BUY,
        quantity="9" * 20_000,
        order_type=order_service_pb2.ORDER_TYPE_MARKET,
    )
    error = await refused(server.client.orders.PlaceOrder(request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert error.reason == "VALIDATION_ERROR"
    (violation,) = error.field_violations
    assert violation.field == "quantity"
    assert "9" * 64 in violation.description
    assert "9" * 65 not in violation.description
    assert "(20000 characters)" in violation.description
    assert len(error.message) < 300


async def test_many_bad_contracts_still_make_an_error_that_arrives(
    server: RunningServer,
) -> None:
    contracts = [
        common_pb2.Contract(symbol="!" * 5000, exchange="?" * 5000, currency="*" * 5000)
        for _ in range(100)
    ]
    responses = server.client.market_data.StreamQuotes(
        market_data_service_pb2.StreamQuotesRequest(contracts=contracts)
    )
    error = await stream_refused(responses)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert 0 < len(error.field_violations) <= 20
    assert error.message.startswith("300 bad fields, the first 20")


@pytest.mark.parametrize(
    "field", ["local_symbol", "last_trade_date_or_contract_month", "multiplier"]
)
async def test_a_control_character_in_a_contract_field_is_a_field_violation(
    server: RunningServer, field: str
) -> None:
    # Found by the fuzz (issue #14): a NUL, IB's field separator, went to IB Gateway and the
    # call never answered.
    contract = common_pb2.Contract(symbol="AAPL")
    setattr(contract, field, "2026\x0012")
    error = await refused(
        server.client.market_data.GetContractDetails(
            market_data_service_pb2.GetContractDetailsRequest(contract=contract)
        )
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT, error
    assert fields_of(error) == {f"contract.{field}"}
