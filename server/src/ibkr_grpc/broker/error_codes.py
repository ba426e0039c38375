"""IB's error and notice codes, sorted into the sets the service acts on.
https://www.interactivebrokers.com/campus/ibkr-api-page/tws-api-error-codes/"""

from __future__ import annotations

# The order was refused (new order) or can no longer work; the order is rejected.
ORDER_REJECTIONS = frozenset(
    {103, 104, 106, 107, 109, 111, 113, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126,
     129, 131, 132, 133, 134, 135, 136, 137, 140, 141, 146, 147, 148, 151, 152, 153, 154, 155,
     156, 157, 158, 159, 160, 163, 164, 166, 167, 168, 200, 201, 203, 382, 383, 387, 388, 392,
     434}
)  # fmt: skip
# IB confirms a cancellation.
ORDER_CANCELLED = frozenset({202})
# About an order, but the order is still live (modification refused, warnings, locate).
ORDER_NOTICES = frozenset({105, 110, 161, 321, 329, 399, 404, 492, 10147, 10148, 10167})

CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
CLIENT_ID_IN_USE = 326
# Farm notices: OK (2104, 2106, 2107, 2108, 2158) or broken (2103, 2105, 2157); informational.
FARM_NOTICES = frozenset({2103, 2104, 2105, 2106, 2107, 2108, 2157, 2158})

NO_SECURITY_DEFINITION = 200
PACING_VIOLATIONS = frozenset({100, 162})
MARKET_DATA_PROBLEMS = frozenset({101, 354, 10089, 10090, 10091, 10167, 10168, 10197})


def group_of(code: int) -> str:
    """A bounded label for an IB code, for metrics."""
    if code in {CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT, CLIENT_ID_IN_USE}:
        return "connectivity"
    if code in FARM_NOTICES or 2100 <= code < 2200:
        return "notice"
    if code in ORDER_REJECTIONS or code in ORDER_CANCELLED or code in ORDER_NOTICES:
        return "order"
    if code in PACING_VIOLATIONS:
        return "pacing"
    if code in MARKET_DATA_PROBLEMS or code == NO_SECURITY_DEFINITION:
        return "market_data"
    return "other"
