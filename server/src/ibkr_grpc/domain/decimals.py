"""Exact decimal strings at the edge of the domain: read with field violations, and written in
one canonical form, the only one any response carries."""

from __future__ import annotations

import re
from decimal import Decimal

from ibkr_grpc.domain.errors import ViolationCollector, shown

# Plain notation only, with a bounded size: an exponent or thirty digits in a price is a bug in
# the caller, not a number to trade on.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,10})?")
# IB's own decimal text, unbounded: it is IB's to choose, and we only re-write it.
_IB_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]*)?")


def read_decimal(
    violations: ViolationCollector,
    field_path: str,
    text: str,
    *,
    required: bool = False,
    positive: bool = False,
) -> Decimal | None:
    """The decimal in `text`, or None when empty; bad input is recorded, not raised."""
    if text == "":
        if required:
            violations.add(field_path, "is required")
        return None
    if not _PLAIN_DECIMAL.fullmatch(text):
        violations.add(field_path, f"must be a plain decimal string like 187.25, got {shown(text)}")
        return None
    value = Decimal(text)
    if positive and value <= 0:
        violations.add(field_path, "must be greater than zero")
        return None
    return value


def write_decimal(value: Decimal | None) -> str:
    """The canonical text of a decimal, the only form a response carries: plain notation, never
    an exponent, trailing zeros removed ("150.00" is "150", "151.50" is "151.5", zero is "0");
    the empty string for None.

    Trimmed rather than at the contract's tick precision so that one rule needs no contract:
    the same value reads the same in every message, whether it came from the caller's request,
    IB's float or IB's text."""
    if value is None:
        return ""
    # format(..., "f") keeps every digit (normalize() would round past 28 of them).
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").removesuffix(".")
    return "0" if text in {"-0", ""} else text


def canonical_text(text: str) -> str:
    """`text` in the canonical decimal form when it is a plain decimal (IB's account values
    arrive as text such as "1000003.00"); any other text ("INDIVIDUAL", "") unchanged."""
    if not _IB_DECIMAL.fullmatch(text):
        return text
    return write_decimal(Decimal(text))
