"""Risk limits between the proto message and the domain, and UpdateRiskLimits' update mask
(AIP-134): which fields a request changes. The bounds every limit is held to, and which paths a
mask may name, are rules of risk_service.proto (checked before any servicer runs); what stays
here is a window's nanos (api.requests.read_duration)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from google.protobuf import duration_pb2

from ibkr.v1 import risk_service_pb2 as pb
from ibkr_grpc.api.requests import read_duration
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.errors import ViolationCollector
from ibkr_grpc.domain.risk import COUNT_LIMITS, DECIMAL_LIMITS, SWITCHES, WINDOWS, RiskLimits

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
    true, windows their default). The request rules have checked the mask's paths and the
    values' bounds; ValidationError reports a window's nanos out of range."""
    violations = ViolationCollector()
    names = _named_fields(message, mask)
    changes = {name: _read_field(message, name, violations) for name in names}
    violations.raise_if_any()
    return replace(current, **changes)


def _named_fields(message: pb.RiskLimits, mask: Sequence[str]) -> frozenset[str]:
    if not mask:
        return frozenset(name for name in FIELDS if _is_set(message, name))
    if EVERY_FIELD in mask:
        return FIELDS
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
        text: str = getattr(message, name)
        return Decimal(text) if text else None
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
