"""Exact decimal strings at the edge of the domain, written in one canonical form, the only one
any response carries. (Requests' decimal strings are checked by their .proto rules, the
`decimal` and `positive_decimal` rules of ibkr/v1/rules.proto.)"""

from __future__ import annotations

import re
from decimal import Decimal

# IB's own decimal text, unbounded: it is IB's to choose, and we only re-write it.
_IB_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]*)?")


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
