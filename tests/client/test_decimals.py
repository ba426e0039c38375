"""Exact decimal strings in and out of the Python client."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ibkr_client import format_decimal, parse_decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("187.25"), "187.25"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.00001"), "0.00001"),
        (Decimal("-3.50"), "-3.50"),
        (Decimal("-0"), "0"),
        (42, "42"),
        ("0.1", "0.1"),
    ],
)
def test_format_decimal_gives_plain_notation(value: Decimal | int | str, text: str) -> None:
    assert format_decimal(value) == text


@pytest.mark.parametrize("value", [0.1, True, None, [1]])
def test_format_decimal_refuses_floats_and_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        format_decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), "1e5", "abc", "1,000"])
def test_format_decimal_refuses_non_finite_and_malformed(value: Decimal | str) -> None:
    with pytest.raises(ValueError, match="decimal"):
        format_decimal(value)


def test_parse_decimal_reads_what_the_api_sends() -> None:
    assert parse_decimal("187.25") == Decimal("187.25")
    assert parse_decimal("-3") == Decimal(-3)
    assert parse_decimal("") is None


@pytest.mark.parametrize("text", ["1e5", " 1", "1.", ".5", "NaN", "+1", "1_000"])
def test_parse_decimal_refuses_anything_but_plain_notation(text: str) -> None:
    with pytest.raises(ValueError, match="plain decimal"):
        parse_decimal(text)


def test_round_trip_is_exact() -> None:
    total = sum((parse_decimal(text) or Decimal(0) for text in ["0.1", "0.2"]), Decimal(0))
    assert format_decimal(total) == "0.3"
