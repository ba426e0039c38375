"""Every IB code the order path acts on, with what it means and where that is written down.

IB-MC: IB's message codes, https://interactivebrokers.github.io/tws-api/message_codes.html
(and the legacy table, http://www.interactivebrokers.com/php/apiUsersGuide/apiguide/tables/
api_message_codes.htm). Codes missing from IB's table cite a published real-gateway log.
"""

from __future__ import annotations

import pytest

from ibkr_grpc.broker import error_codes
from ibkr_grpc.domain.broker_reports import OrderMessageKind

REJECTION = OrderMessageKind.REJECTION
CANCELLATION = OrderMessageKind.CANCELLATION
MODIFY_REFUSAL = OrderMessageKind.MODIFY_REFUSAL
CANCEL_REFUSAL = OrderMessageKind.CANCEL_REFUSAL
WARNING = OrderMessageKind.WARNING

CITED = [
    # IB refused the order it was sent.
    (103, REJECTION, 'IB-MC: "Duplicate order ID"'),
    (110, REJECTION, "IB-MC: price off the minimum variation; ib_async: fatal for a new order"),
    (200, REJECTION, 'IB-MC: "No security definition has been found for the request"'),
    (201, REJECTION, 'IB-MC: "Order rejected - Reason:"'),
    (203, REJECTION, 'IB-MC: "The security is not available or allowed for this account"'),
    (10149, REJECTION, '"Invalid order id: 0", https://github.com/stoqey/ib/issues/203'),
    # IB cancelled the order.
    (202, CANCELLATION, 'IB-MC: "Order cancelled - Reason:" (an active order was cancelled)'),
    # A modification refused; the order keeps working.
    (104, MODIFY_REFUSAL, 'IB-MC: "Can\'t modify a filled order"'),
    (105, MODIFY_REFUSAL, 'IB-MC: "Order being modified does not match original order"'),
    (134, MODIFY_REFUSAL, 'IB-MC: "Modify order failed"'),
    (321, MODIFY_REFUSAL, "IB-MC: validation error; ib_async: after a MODIFY the order is live"),
    (329, MODIFY_REFUSAL, 'IB-MC: "Order modify failed. Cannot change to the new order type"'),
    (2102, MODIFY_REFUSAL, 'IB-MC: "Unable to modify this order as it is still being processed"'),
    # A cancel refused; the order keeps the status IB reports.
    (135, CANCEL_REFUSAL, 'IB-MC: "Can\'t find order with ID =" (cancel of an unknown order)'),
    (136, CANCEL_REFUSAL, 'IB-MC: "This order cannot be cancelled"'),
    (137, CANCEL_REFUSAL, "IB-MC: VWAP orders cancel only up to three minutes before start"),
    (161, CANCEL_REFUSAL, 'IB-MC: "Cancel attempted when order is not in a cancellable state"'),
    (10147, CANCEL_REFUSAL, '"needs to be cancelled is not found", ib_insync issue 690 log'),
    (10148, CANCEL_REFUSAL, 'IB-MC: "cannot be cancelled, state:"; ib_insync issue 656 log'),
    # Warnings: nothing changes.
    (399, WARNING, 'IB-MC: "Order message error" (e.g. "will not be placed ... until")'),
    (404, WARNING, "IB-MC: held while shares are located; ib_insync issue 328: still open"),
    (434, WARNING, 'IB-MC: "The order size cannot be zero"; ib_async: a warning'),
    (2109, WARNING, "IB-MC: outside-regular-hours order event warning"),
    (10349, WARNING, '"TIF was set to DAY based on order preset", ib_async issue 191: fills'),
]


@pytest.mark.parametrize(("code", "kind", "source"), CITED, ids=[str(c[0]) for c in CITED])
def test_each_code_means_what_ib_says(code: int, kind: OrderMessageKind, source: str) -> None:
    assert source
    assert error_codes.order_message_kind(code) is kind


def test_every_code_in_an_order_set_is_cited() -> None:
    cited = {code for code, _, _ in CITED}
    # The rest of ORDER_REJECTIONS are IB-MC's order-field refusals (106-168, 382-392).
    refusals_by_field = {
        c for c in error_codes.ORDER_REJECTIONS if 106 <= c <= 168 or 382 <= c <= 392
    }
    assert error_codes.ORDER_CODES - cited - refusals_by_field == set()


def test_the_sets_do_not_overlap() -> None:
    sets = [
        error_codes.ORDER_REJECTIONS,
        error_codes.ORDER_CANCELLED,
        error_codes.MODIFY_REFUSALS,
        error_codes.CANCEL_REFUSALS,
        error_codes.ORDER_WARNINGS,
    ]
    assert sum(len(s) for s in sets) == len(set().union(*sets))


def test_a_code_nobody_documented_changes_nothing() -> None:
    assert error_codes.order_message_kind(99999) is OrderMessageKind.UNKNOWN
