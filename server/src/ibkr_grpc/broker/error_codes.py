"""IB's error and notice codes, sorted into the sets the service acts on. Every code in an
order set is tested (tests/broker/test_error_codes.py) with the source that says what it means.
https://www.interactivebrokers.com/campus/ibkr-api-page/tws-api-error-codes/"""

from __future__ import annotations

from ibkr_grpc.domain.broker_reports import OrderMessageKind

# IB refused the order it was sent. Definitive for a new order IB had not acknowledged; for a
# working order it refuses the modification that was sent and the order keeps working.
ORDER_REJECTIONS = frozenset(
    {103, 106, 107, 109, 110, 111, 113, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126,
     131, 132, 133, 140, 141, 146, 147, 148, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160,
     163, 164, 166, 167, 168, 200, 201, 203, 382, 383, 387, 388, 392, 10149}
)  # fmt: skip
# IB cancelled the order.
ORDER_CANCELLED_CODE = 202
ORDER_CANCELLED = frozenset({ORDER_CANCELLED_CODE})
# IB refused a modification, or a cancel: the order is unchanged and keeps the status IB
# reports. (IB's message names only the order: when both kinds are pending, the set says which.)
MODIFY_REFUSALS = frozenset({104, 105, 134, 321, 329, 2102})
CANCEL_REFUSALS = frozenset({135, 136, 137, 161, 10147, 10148})
COMMAND_REFUSALS = MODIFY_REFUSALS | CANCEL_REFUSALS
# About an order, but nothing changes (warnings, holds, presets).
ORDER_WARNINGS = frozenset({399, 404, 434, 2109, 10349})

CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
CONNECTIVITY_CODES = frozenset({CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT})
CLIENT_ID_IN_USE = 326
# Farm notices: OK (2104, 2106, 2107, 2108, 2158) or broken (2103, 2105, 2157); informational.
FARM_NOTICES = frozenset({2103, 2104, 2105, 2106, 2107, 2108, 2157, 2158})

NO_SECURITY_DEFINITION = 200
PACING_VIOLATIONS = frozenset({100, 162})
MARKET_DATA_PROBLEMS = frozenset({101, 354, 10089, 10090, 10091, 10167, 10168, 10197})

ORDER_CODES = ORDER_REJECTIONS | ORDER_CANCELLED | COMMAND_REFUSALS | ORDER_WARNINGS


def order_message_kind(code: int) -> OrderMessageKind:
    """What an error or notice about an order means, from its code alone."""
    if code in ORDER_CANCELLED:
        return OrderMessageKind.CANCELLATION
    if code in MODIFY_REFUSALS:
        return OrderMessageKind.MODIFY_REFUSAL
    if code in CANCEL_REFUSALS:
        return OrderMessageKind.CANCEL_REFUSAL
    if code in ORDER_REJECTIONS:
        return OrderMessageKind.REJECTION
    if code in ORDER_WARNINGS or 2100 <= code < 2200:
        return OrderMessageKind.WARNING
    return OrderMessageKind.UNKNOWN


def group_of(code: int) -> str:
    """A bounded label for an IB code, for metrics."""
    if code in {CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT, CLIENT_ID_IN_USE}:
        return "connectivity"
    if code in FARM_NOTICES or 2100 <= code < 2200:
        return "notice"
    if code in ORDER_CODES:
        return "order"
    if code in PACING_VIOLATIONS:
        return "pacing"
    if code in MARKET_DATA_PROBLEMS or code == NO_SECURITY_DEFINITION:
        return "market_data"
    return "other"
