"""UpdateRiskLimits' update mask (AIP-134) on its own: which fields change, and to what."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from google.protobuf import duration_pb2

from ibkr.v1 import risk_service_pb2 as pb
from ibkr_grpc.api.risk_limits import limits_message, read_limits
from ibkr_grpc.domain.errors import ValidationError
from ibkr_grpc.domain.risk import RiskLimits

CURRENT = RiskLimits(
    max_order_quantity=Decimal(5),
    max_open_orders=3,
    market_orders_allowed=False,
    rejection_window=timedelta(minutes=1),
    denied_symbols=frozenset({"GME"}),
)


def test_an_empty_mask_takes_only_the_fields_set() -> None:
    assert read_limits(pb.RiskLimits(), [], CURRENT) == CURRENT
    message = pb.RiskLimits(max_order_notional="100", max_disconnects=2, market_orders_allowed=True)
    message.disconnect_window.FromTimedelta(timedelta(seconds=30))
    updated = read_limits(message, [], CURRENT)
    assert updated == RiskLimits(
        max_order_quantity=Decimal(5),
        max_order_notional=Decimal(100),
        max_open_orders=3,
        max_disconnects=2,
        disconnect_window=timedelta(seconds=30),
        rejection_window=timedelta(minutes=1),
        denied_symbols=frozenset({"GME"}),
    )


def test_a_named_field_left_unset_removes_its_limit_or_takes_its_default() -> None:
    mask = ["max_order_quantity", "max_open_orders", "market_orders_allowed", "rejection_window"]
    assert read_limits(pb.RiskLimits(), mask, CURRENT) == RiskLimits(
        denied_symbols=frozenset({"GME"})
    )


def test_a_star_replaces_every_field() -> None:
    assert read_limits(pb.RiskLimits(max_open_orders=1), ["*"], CURRENT) == RiskLimits(
        max_open_orders=1
    )


def test_what_is_read_back_writes_the_same_limits() -> None:
    assert read_limits(limits_message(CURRENT), ["*"], RiskLimits()) == CURRENT


def test_a_window_with_nanos_of_the_other_sign_is_a_field_violation() -> None:
    # The bounds are the request rules' (tests/api/test_service_rules.py); a Duration's own
    # validity is checked here.
    message = pb.RiskLimits()
    message.rejection_window.CopyFrom(duration_pb2.Duration(seconds=60, nanos=-1))
    with pytest.raises(ValidationError) as raised:
        read_limits(message, [], CURRENT)
    assert [v.field for v in raised.value.field_violations] == ["limits.rejection_window.nanos"]


def test_naked_short_options_of_zero_is_a_limit_and_unset_is_none() -> None:
    """0 means no naked short option at all, unlike the other counts' unset; it round-trips."""
    zero = read_limits(pb.RiskLimits(max_naked_short_options=0), [], CURRENT)
    assert zero == replace(CURRENT, max_naked_short_options=0)
    assert limits_message(zero).HasField("max_naked_short_options")
    assert read_limits(limits_message(zero), ["*"], RiskLimits()) == zero
    cleared = read_limits(pb.RiskLimits(), ["max_naked_short_options"], zero)
    assert cleared.max_naked_short_options is None
    assert not limits_message(cleared).HasField("max_naked_short_options")


def test_underlying_delta_round_trips_and_unset_is_no_limit() -> None:
    """A decimal limit like the others: written as given, read back the same, cleared by an
    empty value under its mask path."""
    limited = read_limits(pb.RiskLimits(max_underlying_delta="250.5"), [], CURRENT)
    assert limited == replace(CURRENT, max_underlying_delta=Decimal("250.5"))
    assert limits_message(limited).max_underlying_delta == "250.5"
    assert read_limits(limits_message(limited), ["*"], RiskLimits()) == limited
    cleared = read_limits(pb.RiskLimits(), ["max_underlying_delta"], limited)
    assert cleared.max_underlying_delta is None
    assert limits_message(cleared).max_underlying_delta == ""
