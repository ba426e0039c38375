"""Risk limits between the proto message and the domain, and UpdateRiskLimits' update mask
(AIP-134): which fields a request changes, and the bounds every limit is held to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from google.protobuf import duration_pb2

from ibkr.v1 import risk_service_pb2 as pb
from ibkr_grpc.api.requests import read_duration
from ibkr_grpc.domain.decimals import read_decimal, write_decimal
from ibkr_grpc.domain.errors import ViolationCollector, shown
from ibkr_grpc.domain.risk import (
    COUNT_LIMITS,
    DECIMAL_LIMITS,
    SWITCHES,
    WINDOWS,
    RiskLimits,
    limit_violations,
)

FIELDS = frozenset(pb.RiskLimits.DESCRIPTOR.fields_by_name)
SYMBOL_LISTS = ("allowed_symbols", "denied_symbols")
EVERY_FIELD = "*"
_DEFAULTS = RiskLimits()


def _duration(delta: timedelta) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromTimedelta(delta)
    return message


def limits_message(limits: RiskLimits) -> pb.RiskLimits:
    message = pb.RiskLimits(
        allowed_symbols=sorted(limits.allowed_symbols),
        denied_symbols=sorted(limits.denied_symbols),
        market_orders_allowed=limits.market_orders_allowed,
        outside_regular_hours_allowed=limits.outside_regular_hours_allowed,
        rejection_window=_duration(limits.rejection_window),
        disconnect_window=_duration(limits.disconnect_window),
    )
    for name in DECIMAL_LIMITS:
        setattr(message, name, write_decimal(getattr(limits, name)))
    for name in COUNT_LIMITS:
        value = getattr(limits, name)
        if value is not None:
            setattr(message, name, value)
    return message


def read_limits(message: pb.RiskLimits, mask: Sequence[str], current: RiskLimits) -> RiskLimits:
    """`current` with the fields the mask names taken from `message`. "*" names every field,
    and an empty mask the fields set in `message` (non-empty strings and lists, present
    optionals and durations). A named field left unset removes its limit (switches become
    true, windows their default). ValidationError lists every unknown path and bad value."""
    violations = ViolationCollector()
    names = _named_fields(message, mask, violations)
    changes = {name: _read_field(message, name, violations) for name in names}
    violations.raise_if_any()
    updated = replace(current, **changes)
    for name, description in limit_violations(updated):
        if name in names:
            violations.add(f"limits.{name}", description)
    violations.raise_if_any()
    return updated


def _named_fields(
    message: pb.RiskLimits, mask: Sequence[str], violations: ViolationCollector
) -> frozenset[str]:
    if not mask:
        return frozenset(name for name in FIELDS if _is_set(message, name))
    if EVERY_FIELD in mask:
        if len(set(mask)) > 1:
            violations.add("update_mask", '"*" replaces every field: give it alone')
        return FIELDS
    for path in mask:
        if path not in FIELDS:
            violations.add("update_mask", f"unknown field {shown(path)}")
    return frozenset(mask) & FIELDS


def _is_set(message: pb.RiskLimits, name: str) -> bool:
    if name in DECIMAL_LIMITS:
        text: str = getattr(message, name)
        return text != ""
    if name in SYMBOL_LISTS:
        return len(getattr(message, name)) > 0
    return bool(message.HasField(name))  # type: ignore[arg-type]  # the other fields are optional


def _read_field(message: pb.RiskLimits, name: str, violations: ViolationCollector) -> Any:
    path = f"limits.{name}"
    if name in DECIMAL_LIMITS:
        return read_decimal(violations, path, getattr(message, name), positive=True)
    if name in SYMBOL_LISTS:
        return frozenset(symbol.strip().upper() for symbol in getattr(message, name))
    present = message.HasField(name)  # type: ignore[arg-type]  # the other fields are optional
    if name in COUNT_LIMITS:
        return getattr(message, name) if present else None
    if name in SWITCHES:
        return getattr(message, name) if present else True
    if name in WINDOWS:
        if not present:
            return getattr(_DEFAULTS, name)
        window = read_duration(violations, path, getattr(message, name))
        return getattr(_DEFAULTS, name) if window is None else window
    message_text = f"no reader for the risk limit {name}"
    raise AssertionError(message_text)
