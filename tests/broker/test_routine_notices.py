"""The server's logging: IB's routine notices, as the real ib_async wrapper logs them, are INFO
lines (configure_logging installs the filter), and IB's real errors stay errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
from ib_async import IB, LimitOrder, Stock, Trade

from ibkr_grpc.logging_setup import RoutineNoticeFilter, configure_logging

ORDER_ID = 7


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def levels(self) -> list[tuple[str, str]]:
        return [(record.levelname, record.getMessage()[:40]) for record in self.records]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """configure_logging as `serve` runs it, with a recorder beside its handler; undone after."""
    root = logging.getLogger()
    ib_async = logging.getLogger("ib_async")
    wrapper = logging.getLogger("ib_async.wrapper")
    saved = (list(root.handlers), root.level, ib_async.level, list(wrapper.filters))
    configure_logging("INFO")
    handler = Recorder()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        ib_async.setLevel(saved[2])
        wrapper.filters[:] = saved[3]
        structlog.reset_defaults()


def gateway_with_order() -> IB:
    """ib_async's real wrapper, holding one trade of ours, to feed IB's messages to."""
    ib = IB()
    trade = Trade(contract=Stock("AAPL", "SMART", "USD"), order=LimitOrder("BUY", 1, 10.0))
    trade.order.orderId = ORDER_ID
    ib.wrapper.trades[(ib.wrapper.clientId, ORDER_ID)] = trade
    return ib


def test_the_cancel_we_asked_for_is_no_error(recorder: Recorder) -> None:
    ib = gateway_with_order()
    ib.wrapper.error(ORDER_ID, 202, "Order Canceled - reason:", "")
    # ib_async logs "Error 202" and "Canceled order: Trade(...)": INFO lines, which the server
    # keeps out of its log like ib_async's other INFO lines.
    assert recorder.levels() == []


def test_routine_notices_are_info_lines(recorder: Recorder) -> None:
    logging.getLogger("ib_async").setLevel(logging.INFO)
    ib = gateway_with_order()
    ib.wrapper.error(ORDER_ID, 202, "Order Canceled - reason:", "")
    ib.wrapper.error(-1, 2104, "Market data farm connection is OK:usfarm", "")
    ib.wrapper.error(-1, 2158, "Sec-def data farm connection is OK:secdefnj", "")
    held = "Order Message:\nBUY 1 AAPL NASDAQ.NMS\nWarning: your order will not be placed at the exchange until 2026-03-03 09:30:00 US/Eastern"
    ib.wrapper.error(ORDER_ID, 399, held, "")
    assert [level for level, _ in recorder.levels()] == ["INFO"] * len(recorder.records)
    assert [message for _, message in recorder.levels()] == [
        "Error 202, reqId 7: Order Canceled - rea",
        "Canceled order: Trade(contract=Stock(sym",
        "Warning 2104, reqId -1: Market data farm",
        "Warning 2158, reqId -1: Sec-def data far",
        "IBKR API validation warning: Trade(contr",
    ]


def test_ibs_own_cancels_and_rejections_stay_errors(recorder: Recorder) -> None:
    ib = gateway_with_order()
    ib.wrapper.error(ORDER_ID, 201, "Order rejected - reason:The account has no margin", "")
    ib.wrapper.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.", "")
    assert [level for level, _ in recorder.levels()] == ["ERROR", "WARNING", "ERROR"]
    ib = gateway_with_order()
    ib.wrapper.error(ORDER_ID, 202, "Order Canceled - reason:Day order expired", "")
    assert recorder.levels()[-2:] == [
        ("ERROR", "Error 202, reqId 7: Order Canceled - rea"),
        ("WARNING", "Canceled order: Trade(contract=Stock(sym"),
    ]


def test_the_filter_is_installed_once(recorder: Recorder) -> None:
    configure_logging("INFO")
    wrapper = logging.getLogger("ib_async.wrapper")
    assert sum(isinstance(f, RoutineNoticeFilter) for f in wrapper.filters) == 1
