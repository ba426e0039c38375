"""Exact decimal strings at the edge of the domain: read with field violations, write plainly."""

from __future__ import annotations

import re
from decimal import Decimal

from ibkr_grpc.domain.errors import ViolationCollector, shown

# Plain notation only, with a bounded size: an exponent or thirty digits in a price is a bug in
# the caller, not a number to trade on.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,10})?")


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
    """Plain notation without exponent; the empty string for None."""
    if value is None:
        return ""
    text = format(value.normalize() if value == value.to_integral() else value, "f")
    return "0" if text in {"-0", "0"} else text
