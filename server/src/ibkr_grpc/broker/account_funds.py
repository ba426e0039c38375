"""An account's AvailableFunds from the account values ib_async keeps (reqAccountUpdates).

IB sends each value once per currency; the figure that counts is the one in the account's base
currency (the `BaseCurrency` tag, else the currency of NetLiquidation), as the account summary
reads it (broker/portfolio.py)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ib_async import AccountValue

AVAILABLE_FUNDS_TAG = "AvailableFunds"


def base_currency(values: Sequence[AccountValue]) -> str:
    named = next((v.value for v in values if v.tag == "BaseCurrency"), "")
    if named:
        return named
    return next(
        (
            v.currency
            for v in values
            if v.tag == "NetLiquidation" and v.currency not in {"", "BASE"}
        ),
        "USD",
    )


def available_funds(values: Sequence[AccountValue]) -> Decimal | None:
    """The account's AvailableFunds in its base currency; None when IB has not reported it."""
    own = [value for value in values if not value.modelCode]
    base = base_currency(own)
    for value in own:
        if value.tag == AVAILABLE_FUNDS_TAG and value.currency in {base, ""}:
            try:
                return Decimal(value.value) if value.value else None
            except InvalidOperation:
                return None
    return None
