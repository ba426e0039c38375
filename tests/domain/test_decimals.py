"""The canonical decimal form every response carries: plain, trimmed, never an exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibkr_grpc.domain.decimals import canonical_text, write_decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("150.00"), "150"),
        (Decimal("151.50"), "151.5"),
        (Decimal("151.5"), "151.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1E-10"), "0.0000000001"),
        (Decimal("0.00"), "0"),
        (Decimal("-0.0"), "0"),
        (Decimal("-3.250"), "-3.25"),
        (Decimal("1000003.00"), "1000003"),
        # More digits than the default context's 28: none may be lost.
        (Decimal("123456789012345678.1234567890123"), "123456789012345678.1234567890123"),
        (None, ""),
    ],
)
def test_write_decimal(value: Decimal | None, text: str) -> None:
    assert write_decimal(value) == text


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("1000003.00", "1000003"),
        ("-12.50", "-12.5"),
        ("0.00", "0"),
        ("INDIVIDUAL", "INDIVIDUAL"),
        ("", ""),
        ("1.5E7", "1.5E7"),
        ("USD", "USD"),
    ],
)
def test_canonical_text_rewrites_only_plain_decimals(given: str, written: str) -> None:
    assert canonical_text(given) == written
