"""Exact decimal strings, as ibkr.v1 carries prices, quantities and money, to and from Decimal."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Plain notation only: an optional minus, digits, and an optional fraction. No exponent, no
# thousands separators, no NaN or infinity. The server enforces the same rule.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def format_decimal(value: Decimal | int | str) -> str:
    """Render a value as an ibkr.v1 decimal string ("187.25").

    Floats are refused on purpose: 0.1 + 0.2 is not 0.3 in binary floating point, and an order
    price must be exactly what the caller meant. Pass a Decimal, an int or a string.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"expected Decimal, int or str, got {type(value).__name__}")
    number = value if isinstance(value, Decimal) else parse_decimal(str(value))
    if number is None or not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    text = format(number, "f")
    return "0" if text in {"-0", "0"} else text


def parse_decimal(text: str) -> Decimal | None:
    """Read an ibkr.v1 decimal string; the empty string (not set) gives None."""
    if text == "":
        return None
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise ValueError(f"not a plain decimal string: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation as error:  # unreachable after the pattern, kept as a guard
        raise ValueError(f"not a plain decimal string: {text!r}") from error
