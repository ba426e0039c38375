"""The v1 contract's own rules, checked on the compiled descriptors of the generated code."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import http_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

from ibkr.v1 import (
    common_pb2,
    errors_pb2,
    gateway_service_pb2,
    market_data_service_pb2,
    option_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)
from tests.contract.contract_helpers import http_rule_of

FILES: list[FileDescriptor] = [
    module.DESCRIPTOR
    for module in (
        common_pb2,
        errors_pb2,
        gateway_service_pb2,
        market_data_service_pb2,
        option_service_pb2,
        order_service_pb2,
        portfolio_service_pb2,
        risk_service_pb2,
    )
]
README = Path(__file__).resolve().parents[2] / "README.md"

# The RPCs the issue fixes, with the HTTP routes it fixes (None: the route is ours to choose).
REQUIRED_RPCS: dict[str, dict[str, tuple[str, str] | None]] = {
    "OrderService": {
        "PlaceOrder": ("post", "/v1/orders"),
        "GetOrder": ("get", "/v1/orders/{order_id}"),
        "ListOrders": ("get", "/v1/orders"),
        "ModifyOrder": ("patch", "/v1/orders/{order_id}"),
        "CancelOrder": ("post", "/v1/orders/{order_id}:cancel"),
        "CancelAllOrders": ("post", "/v1/orders:cancelAll"),
        "ListFills": ("get", "/v1/fills"),
        "StreamOrderEvents": None,
    },
    "PortfolioService": dict.fromkeys(
        ["ListAccounts", "GetAccountSummary", "ListPositions", "GetPnL", "StreamPortfolio"]
    ),
    "MarketDataService": dict.fromkeys(
        [
            "SearchContracts",
            "GetContractDetails",
            "GetQuote",
            "StreamQuotes",
            "GetHistoricalBars",
            "StreamMarketDepth",
            "StreamTicks",
            "StreamBars",
        ]
    ),
    "GatewayService": dict.fromkeys(["GetGatewayStatus", "StreamGatewayStatus"]),
    "OptionService": {
        "GetOptionChain": ("get", "/v1/option-chains"),
        "StreamOptionChain": ("post", "/v1/option-chains:stream"),
    },
    "RiskService": dict.fromkeys(
        [
            "GetRiskLimits",
            "UpdateRiskLimits",
            "HaltTrading",
            "ResumeTrading",
            "GetTradingState",
            "StreamTradingState",
        ]
    ),
}

# Words in a field name that mark a price, a quantity or money: they must be decimal strings.
MONEY_OR_QUANTITY_WORDS = frozenset(
    [
        "price",
        "quantity",
        "amount",
        "percent",
        "pnl",
        "cash",
        "value",
        "liquidation",
        "funds",
        "power",
        "margin",
        "commission",
        "notional",
        "bid",
        "ask",
        "last",
        "size",
        "volume",
        "high",
        "low",
        "open",
        "close",
        "cushion",
        "cost",
        "slippage",
        "strike",
        "multiplier",
        "tick",
        "increment",
        "requirement",
        "equity",
        "exposure",
        "loss",
    ]
)
# Non-decimal fields whose names happen to contain such a word.
NOT_DECIMAL = {
    "values",
    "trading_hours",
    "liquid_hours",
    "page_size",
    "last_error",
    "last_error_code",
    "max_open_orders",  # a count of orders
    "replay_last",  # a count of events
}


def all_messages() -> list[Descriptor]:
    found: list[Descriptor] = []
    pending = [message for file in FILES for message in file.message_types_by_name.values()]
    while pending:
        message = pending.pop()
        found.append(message)
        pending.extend(message.nested_types)
    return found


def all_enums() -> list[EnumDescriptor]:
    enums = [enum for file in FILES for enum in file.enum_types_by_name.values()]
    enums += [enum for message in all_messages() for enum in message.enum_types]
    return enums


def http_rule(service: str, method: str) -> http_pb2.HttpRule:
    file = next(file for file in FILES if service in file.services_by_name)
    method_descriptor = file.services_by_name[service].methods_by_name[method]
    options = descriptor_pb2.MethodOptions()
    options.ParseFromString(method_descriptor.GetOptions().SerializeToString())
    return http_rule_of(options)


def test_every_file_is_in_package_ibkr_v1() -> None:
    assert {file.package for file in FILES} == {"ibkr.v1"}


@pytest.mark.parametrize(
    ("service", "method"),
    [(service, method) for service, methods in REQUIRED_RPCS.items() for method in methods],
)
def test_required_rpc_exists_with_http_route(service: str, method: str) -> None:
    rule = http_rule(service, method)
    verb = rule.WhichOneof("pattern")
    assert verb in {"get", "post", "patch", "put", "delete"}, f"{service}.{method} has no route"
    path = getattr(rule, verb)
    assert path.startswith("/v1/")
    expected = REQUIRED_RPCS[service][method]
    if expected is not None:
        assert (verb, path) == expected
    if verb in {"post", "patch", "put"}:
        assert rule.body == "*", "mutating routes take the whole request as the JSON body"


def test_no_rpc_without_http_route() -> None:
    for file in FILES:
        for service in file.services_by_name.values():
            for method in service.methods:
                assert http_rule(service.name, method.name).WhichOneof("pattern"), method.full_name


def test_no_float_or_double_anywhere() -> None:
    floating = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}
    offenders = [
        field.full_name
        for message in all_messages()
        for field in message.fields
        if field.type in floating
    ]
    assert offenders == []


def test_prices_quantities_and_money_are_decimal_strings() -> None:
    checked = 0
    for message in all_messages():
        for field in message.fields:
            words = set(field.name.split("_"))
            if field.name in NOT_DECIMAL or not words & MONEY_OR_QUANTITY_WORDS:
                continue
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                continue  # e.g. take_profit legs, arrival_quote: checked as messages themselves
            if field.type == FieldDescriptor.TYPE_ENUM:
                continue  # e.g. bar_size
            assert field.type == FieldDescriptor.TYPE_STRING, field.full_name
            checked += 1
    assert checked > 50, "the name pattern should catch the contract's money fields"


def test_times_are_timestamps() -> None:
    for message in all_messages():
        for field in message.fields:
            if field.name.endswith("_time") or field.name.endswith("_since"):
                kind = field.message_type
                assert kind is not None, field.full_name
                assert kind.full_name == "google.protobuf.Timestamp", field.full_name


def test_every_enum_starts_with_unspecified() -> None:
    for enum in all_enums():
        zero = enum.values_by_number[0]
        assert zero.name.endswith("_UNSPECIFIED"), enum.full_name


def test_streams_use_one_envelope_with_heartbeat_and_marker() -> None:
    streams = [
        method
        for file in FILES
        for service in file.services_by_name.values()
        for method in service.methods
        if method.server_streaming
    ]
    assert {method.name for method in streams} == {
        "StreamOrderEvents",
        "StreamPortfolio",
        "StreamQuotes",
        "StreamGatewayStatus",
        "StreamTradingState",
        "StreamOptionChain",
        "StreamMarketDepth",
        "StreamTicks",
        "StreamBars",
    }
    for method in streams:
        response = method.output_type
        assert [oneof.name for oneof in response.oneofs] == ["payload"], method.full_name
        payload_types = {
            field.message_type.full_name
            for field in response.oneofs[0].fields
            if field.message_type is not None
        }
        assert {"ibkr.v1.Heartbeat", "ibkr.v1.StreamMarker"} <= payload_types, method.full_name
        interval = method.input_type.fields_by_name["heartbeat_interval"].message_type
        assert interval is not None
        assert interval.full_name == "google.protobuf.Duration"


def test_order_events_resume_by_sequence() -> None:
    request = order_service_pb2.StreamOrderEventsRequest.DESCRIPTOR
    event = order_service_pb2.OrderEvent.DESCRIPTOR
    assert request.fields_by_name["after_sequence"].type == FieldDescriptor.TYPE_INT64
    assert event.fields_by_name["sequence"].type == FieldDescriptor.TYPE_INT64


def test_place_order_request_has_what_the_issue_requires() -> None:
    fields = set(order_service_pb2.PlaceOrderRequest.DESCRIPTOR.fields_by_name)
    assert {
        "account",
        "contract",
        "side",
        "quantity",
        "order_type",
        "limit_price",
        "stop_price",
        "trailing_amount",
        "trailing_percent",
        "time_in_force",
        "outside_regular_hours",
        "take_profit",
        "stop_loss",
        "validate_only",
        "client_order_id",
    } <= fields
    contract = set(common_pb2.Contract.DESCRIPTOR.fields_by_name)
    assert {"symbol", "security_type", "exchange", "currency", "con_id"} <= contract
    assert set(order_service_pb2.OrderType.keys()) >= {
        "ORDER_TYPE_MARKET",
        "ORDER_TYPE_LIMIT",
        "ORDER_TYPE_STOP",
        "ORDER_TYPE_STOP_LIMIT",
        "ORDER_TYPE_TRAILING_STOP",
    }
    assert set(order_service_pb2.TimeInForce.keys()) >= {
        "TIME_IN_FORCE_DAY",
        "TIME_IN_FORCE_GTC",
        "TIME_IN_FORCE_IOC",
        "TIME_IN_FORCE_FOK",
    }


def test_order_carries_what_the_issue_requires() -> None:
    fields = set(order_service_pb2.Order.DESCRIPTOR.fields_by_name)
    assert {
        "order_id",
        "client_order_id",
        "broker_order_id",
        "perm_id",
        "status",
        "status_reason",
        "filled_quantity",
        "remaining_quantity",
        "average_fill_price",
        "parent_order_id",
        "child_order_ids",
        "create_time",
        "update_time",
    } <= fields
    statuses = {
        "PENDING_SUBMIT",
        "SUBMITTED",
        "PARTIALLY_FILLED",
        "FILLED",
        "PENDING_CANCEL",
        "CANCELLED",
        "REJECTED",
        "INACTIVE",
        "EXPIRED",
    }
    assert {f"ORDER_STATUS_{status}" for status in statuses} <= set(
        order_service_pb2.OrderStatus.keys()
    )


def catalogue_reasons() -> list[str]:
    return [
        name.removeprefix("ERROR_REASON_")
        for name in errors_pb2.ErrorReason.keys()  # noqa: SIM118 (an enum wrapper, not a dict)
        if name != "ERROR_REASON_UNSPECIFIED"
    ]


def test_error_catalogue_holds_the_required_reasons() -> None:
    assert set(catalogue_reasons()) >= {
        "VALIDATION_ERROR",
        "ORDER_VALIDATION_FAILED",
        "INSUFFICIENT_FUNDS",
        "POSITION_LIMIT_EXCEEDED",
        "SYMBOL_NOT_ALLOWED",
        "MARKET_CLOSED",
        "RATE_LIMIT_EXCEEDED",
        "TRADING_HALTED",
        "IB_CONNECTION_FAILED",
        "IB_INVALID_CONTRACT",
        "IB_ORDER_REJECTED",
        "IB_MARKET_DATA_ERROR",
        "IB_PACING_VIOLATION",
    }


def test_readme_documents_every_error_reason() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [reason for reason in catalogue_reasons() if f"`{reason}`" not in readme]
    assert missing == []
