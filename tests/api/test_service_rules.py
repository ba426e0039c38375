"""The request rules of the market data, option, portfolio and risk services (buf.validate
annotations in their .proto files), checked as the server checks every request: each rule
refuses what the hand-written check it replaced refused, at the same field, and the tables a
rule repeats (bar and span lengths, RiskLimits' field names, the underlyings of options) agree
with the server's own."""

from __future__ import annotations

import sys

import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from google.protobuf.message import Message

from ibkr.v1 import (
    common_pb2,
    market_data_service_pb2,
    option_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)
from ibkr_grpc.api.bar_messages import BAR_SIZES, SPAN_UNITS
from ibkr_grpc.api.conversions import SECURITY_TYPES, reverse
from ibkr_grpc.api.request_rules import RequestRules
from ibkr_grpc.domain.errors import ValidationError
from ibkr_grpc.domain.options import UNDERLYING_TYPES
from ibkr_grpc.services.live_bars import (
    BAR_SECONDS,
    MAXIMUM_LIVE_BARS,
    SMALLEST_LIVE_BAR,
    SPAN_SECONDS,
    bars_in_span,
)

RULES = RequestRules()
BarSize = market_data_service_pb2.BarSize
SpanUnit = market_data_service_pb2.SpanUnit
AAPL = common_pb2.Contract(symbol="AAPL")
# Every character str.strip() removes: a text of only these is blank to the server.
WHITESPACE = [chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()]


def violations(request: Message) -> list[tuple[str, str]]:
    try:
        RULES.check(request)
    except ValidationError as error:
        return [(v.field, v.description) for v in error.field_violations]
    return []


def fields(request: Message) -> list[str]:
    return [field for field, _ in violations(request)]


# ---- market data --------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", " ", "".join(WHITESPACE)])
def test_a_blank_query_is_required(query: str) -> None:
    request = market_data_service_pb2.SearchContractsRequest(query=query)
    assert [(f, d.split(",")[0]) for f, d in violations(request)] == [("query", "is required")]


def test_every_whitespace_character_is_blank_to_the_rules() -> None:
    for character in WHITESPACE:
        request = market_data_service_pb2.SearchContractsRequest(query=character * 2)
        assert fields(request) == ["query"], repr(character)


def test_a_query_of_64_characters_and_no_negative_page_size() -> None:
    assert not violations(market_data_service_pb2.SearchContractsRequest(query="a" * 64))
    assert not violations(market_data_service_pb2.SearchContractsRequest(query=" apple "))
    request = market_data_service_pb2.SearchContractsRequest(query="a" * 65, page_size=-1)
    assert fields(request) == ["query", "page_size"]


def test_a_history_needs_a_bar_size_and_a_span_or_a_start() -> None:
    request = market_data_service_pb2.GetHistoricalBarsRequest(contract=AAPL)
    assert sorted(fields(request)) == ["bar_size", "span"]
    request = market_data_service_pb2.GetHistoricalBarsRequest(
        contract=AAPL,
        bar_size=BarSize.ValueType(99),
        span=market_data_service_pb2.HistorySpan(count=0, unit=SpanUnit.ValueType(9)),
    )
    assert sorted(fields(request)) == ["bar_size", "span.count", "span.unit"]
    request.bar_size = market_data_service_pb2.BAR_SIZE_1_HOUR
    request.span.CopyFrom(market_data_service_pb2.HistorySpan(count=2, unit=SpanUnit.ValueType(0)))
    assert fields(request) == ["span.unit"]
    request.span.unit = market_data_service_pb2.SPAN_UNIT_DAYS
    assert not violations(request)


def test_every_defined_bar_size_and_span_unit_is_one_the_server_reads() -> None:
    bar_sizes = market_data_service_pb2.BarSize.values()
    units = market_data_service_pb2.SpanUnit.values()
    assert set(BAR_SIZES) == set(bar_sizes) - {0}
    assert set(SPAN_UNITS) == set(units) - {0}


def live_bars(
    bar_size: BarSize.ValueType, count: int, unit: SpanUnit.ValueType
) -> market_data_service_pb2.StreamBarsRequest:
    return market_data_service_pb2.StreamBarsRequest(
        contract=AAPL,
        bar_size=bar_size,
        span=market_data_service_pb2.HistorySpan(count=count, unit=unit),
    )


def test_a_live_bar_of_one_second_is_refused() -> None:
    assert BAR_SECONDS[SMALLEST_LIVE_BAR] == 5
    request = live_bars(
        market_data_service_pb2.BAR_SIZE_1_SECOND, 60, market_data_service_pb2.SPAN_UNIT_SECONDS
    )
    assert fields(request) == ["bar_size"]
    request.bar_size = market_data_service_pb2.BAR_SIZE_5_SECONDS
    assert not violations(request)


@pytest.mark.parametrize("bar_size", sorted(BAR_SIZES))
@pytest.mark.parametrize("unit", sorted(SPAN_UNITS))
def test_the_span_rule_counts_bars_as_the_live_bars_service(
    bar_size: BarSize.ValueType, unit: SpanUnit.ValueType
) -> None:
    size, span_unit = BAR_SIZES[bar_size], SPAN_UNITS[unit]
    # The largest count whose span holds at most MAXIMUM_LIVE_BARS bars, and the next one.
    largest = MAXIMUM_LIVE_BARS * BAR_SECONDS[size] // SPAN_SECONDS[span_unit]
    for count in {largest, largest + 1, 2**31 - 1}:
        if not 0 < count < 2**31:
            continue
        held = bars_in_span(size, count, span_unit)
        found = [d for f, d in violations(live_bars(bar_size, count, unit)) if f == "span"]
        if held > MAXIMUM_LIVE_BARS:
            expected = (
                f"holds up to {held} bars of this size; at most {MAXIMUM_LIVE_BARS}: "
                "a shorter span or a larger bar"
            )
            assert found == [expected]
        else:
            assert not found


def test_a_live_bar_stream_needs_its_span() -> None:
    request = market_data_service_pb2.StreamBarsRequest(
        contract=AAPL, bar_size=market_data_service_pb2.BAR_SIZE_1_MINUTE
    )
    assert fields(request) == ["span"]


# ---- options and portfolio ----------------------------------------------------------------


@pytest.mark.parametrize("security_type", common_pb2.SecurityType.values())
def test_options_are_listed_on_the_underlyings_the_server_knows(
    security_type: common_pb2.SecurityType.ValueType,
) -> None:
    listed = security_type == 0 or reverse(SECURITY_TYPES)[security_type] in UNDERLYING_TYPES
    contract = common_pb2.Contract(con_id=265598, security_type=security_type)
    for request in (
        option_service_pb2.GetOptionChainRequest(underlying=contract),
        option_service_pb2.StreamOptionChainRequest(underlying=contract, expiration="20261218"),
    ):
        expected = [] if listed else ["underlying.security_type"]
        assert fields(request) == expected


def test_an_account_summary_and_pnl_need_the_account() -> None:
    assert fields(portfolio_service_pb2.GetAccountSummaryRequest()) == ["account"]
    assert fields(portfolio_service_pb2.GetPnLRequest()) == ["account"]
    assert not violations(portfolio_service_pb2.GetPnLRequest(account="DU1234567"))


# ---- risk ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", " ", "\u3000\t"])
def test_a_halt_or_resume_needs_a_reason(reason: str) -> None:
    for request in (
        risk_service_pb2.HaltTradingRequest(reason=reason),
        risk_service_pb2.ResumeTradingRequest(reason=reason),
    ):
        assert fields(request) == ["reason"]


def test_a_halted_account_is_at_most_32_characters() -> None:
    assert not violations(risk_service_pb2.HaltTradingRequest(reason="stop", account="D" * 32))
    request = risk_service_pb2.ResumeTradingRequest(reason="go", account="D" * 33)
    assert fields(request) == ["account"]


def update(
    limits: risk_service_pb2.RiskLimits, *paths: str
) -> risk_service_pb2.UpdateRiskLimitsRequest:
    return risk_service_pb2.UpdateRiskLimitsRequest(
        limits=limits, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )


def test_the_mask_knows_exactly_the_fields_of_risk_limits() -> None:
    names = list(risk_service_pb2.RiskLimits.DESCRIPTOR.fields_by_name)
    assert not violations(update(risk_service_pb2.RiskLimits(), *names))
    assert not violations(update(risk_service_pb2.RiskLimits(), "*"))
    for path in ("nonsense", "limits.max_open_orders", "max_open_orders.value", ""):
        found = violations(update(risk_service_pb2.RiskLimits(), "max_open_orders", path))
        assert found == [("update_mask", f"unknown field {path!r}")]
    found = violations(update(risk_service_pb2.RiskLimits(), "x" * 65))
    assert found == [("update_mask", "unknown field of 65 characters")]


def test_every_field_is_given_alone() -> None:
    found = violations(update(risk_service_pb2.RiskLimits(), "*", "max_open_orders"))
    assert found == [("update_mask", '"*" replaces every field: give it alone')]


def test_every_bad_limit_is_reported_at_once() -> None:
    limits = risk_service_pb2.RiskLimits(
        max_open_orders=0,
        max_rejections=1_000_001,
        price_collar_percent="101",
        max_order_quantity="-1",
        daily_loss_limit="1e5",
        denied_symbols=["GME", " "],
    )
    limits.rejection_window.CopyFrom(duration_pb2.Duration(seconds=-1))
    limits.disconnect_window.CopyFrom(duration_pb2.Duration(seconds=8 * 86_400))
    assert sorted(fields(update(limits))) == [
        "limits.daily_loss_limit",
        "limits.denied_symbols",
        "limits.disconnect_window",
        "limits.max_open_orders",
        "limits.max_order_quantity",
        "limits.max_rejections",
        "limits.price_collar_percent",
        "limits.rejection_window",
    ]


def test_the_largest_and_smallest_limits_are_kept() -> None:
    limits = risk_service_pb2.RiskLimits(
        max_open_orders=1,
        max_orders_per_minute=1_000_000,
        price_collar_percent="100",
        max_order_quantity="0.0000000001",
        allowed_symbols=["AAPL"],
    )
    limits.rejection_window.CopyFrom(duration_pb2.Duration(seconds=1))
    limits.disconnect_window.CopyFrom(duration_pb2.Duration(seconds=7 * 86_400))
    assert not violations(update(limits))
    limits.price_collar_percent = "100.0000000001"
    assert fields(update(limits)) == ["limits.price_collar_percent"]


def test_underlying_delta_is_a_positive_decimal_named_in_the_mask() -> None:
    for bad in ("0", "-100", "1e5"):
        limits = risk_service_pb2.RiskLimits(max_underlying_delta=bad)
        assert fields(update(limits)) == ["limits.max_underlying_delta"]
    good = risk_service_pb2.RiskLimits(max_underlying_delta="0.5")
    assert not violations(update(good, "max_underlying_delta"))
