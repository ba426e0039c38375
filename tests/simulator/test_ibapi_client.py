"""IB's own Python client (ibapi, the 9.81 release on PyPI, protocol versions up to 157)
against the simulator: the handshake, order flows and the 399 notice, through its threaded
EClient."""

from __future__ import annotations

import asyncio
import datetime as dt
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from ibkr_simulator import Simulator, SimulatorConfig
from tests.support.market_hours import TRADING_MORNING

Event = tuple[str, tuple[object, ...]]


class RecordingApp(EWrapper, EClient):  # type: ignore[misc]
    """Puts every callback it gets on a queue, for the test thread to read."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.events: queue.Queue[Event] = queue.Queue()

    def nextValidId(self, orderId: int) -> None:  # noqa: N803  ibapi's names
        self.events.put(("nextValidId", (orderId,)))

    def managedAccounts(self, accountsList: str) -> None:  # noqa: N803
        self.events.put(("managedAccounts", (accountsList,)))

    def orderStatus(self, orderId: int, status: str, filled: float, *rest: object) -> None:  # noqa: N803
        self.events.put(("orderStatus", (orderId, status, filled)))

    def openOrder(self, orderId: int, contract: Contract, order: Order, orderState: object) -> None:  # noqa: N803
        self.events.put(("openOrder", (orderId, contract.symbol, order.orderRef)))

    def error(self, reqId: int, errorCode: int, errorString: str) -> None:  # noqa: N803
        self.events.put(("error", (reqId, errorCode, errorString)))

    def wait_for(
        self, name: str, predicate: object = None, seconds: float = 5.0
    ) -> tuple[object, ...]:
        while True:
            event, arguments = self.events.get(timeout=seconds)
            if event == name and (predicate is None or predicate(arguments)):  # type: ignore[operator]
                return arguments


@contextmanager
def _ibapi_client(config: SimulatorConfig) -> Iterator[RecordingApp]:
    """ibapi connected to a simulator on its own event loop thread, since ibapi blocks."""
    ready: queue.Queue[tuple[str, int]] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        async with Simulator(config) as simulator:
            ready.put((simulator.host, simulator.port))
            await asyncio.to_thread(stop.wait)

    server = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    server.start()
    try:
        host, port = ready.get(timeout=10)
        app = RecordingApp()
        app.connect(host, port, clientId=7)
        reader = threading.Thread(target=app.run, daemon=True)
        reader.start()
        try:
            yield app
        finally:
            app.disconnect()
            reader.join(timeout=5)
    finally:
        stop.set()
        server.join(timeout=10)


@pytest.fixture
def ibapi_app() -> Iterator[RecordingApp]:
    with _ibapi_client(SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)) as app:
        yield app


def _stock(symbol: str) -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        symbol,
        "STK",
        "SMART",
        "USD",
    )
    return contract


def test_ibapi_handshake_and_a_limit_order_placed_and_cancelled(ibapi_app: RecordingApp) -> None:
    (order_id,) = ibapi_app.wait_for("nextValidId")
    assert isinstance(order_id, int)
    assert order_id > 0
    contract = _stock("AAPL")
    order = Order()
    order.action, order.orderType, order.totalQuantity, order.lmtPrice = "BUY", "LMT", 10, 50.0
    order.orderRef = "from-ibapi"
    ibapi_app.placeOrder(order_id, contract, order)
    _, symbol, reference = ibapi_app.wait_for("openOrder")
    assert (symbol, reference) == ("AAPL", "from-ibapi")
    ibapi_app.wait_for("orderStatus", lambda a: a[1] in {"Submitted", "PreSubmitted"})
    ibapi_app.cancelOrder(order_id)
    ibapi_app.wait_for("orderStatus", lambda a: a[1] == "Cancelled")


def test_ibapi_an_order_id_below_one_already_used_is_duplicate_103(
    ibapi_app: RecordingApp,
) -> None:
    # ibapi leaves order ids to the program. IB's 103 "Duplicate order ID" is for "an order ID
    # that is less than or equal to the order ID of a previous order from this client"
    # (http://www.interactivebrokers.com/php/apiUsersGuide/apiguide/tables/api_message_codes.htm).
    (order_id,) = ibapi_app.wait_for("nextValidId")
    assert isinstance(order_id, int)
    contract = _stock("AAPL")
    order = Order()
    order.action, order.orderType, order.totalQuantity, order.lmtPrice = "BUY", "LMT", 1, 50.0
    ibapi_app.placeOrder(order_id + 5, contract, order)
    ibapi_app.wait_for("orderStatus", lambda a: a[0] == order_id + 5)
    ibapi_app.placeOrder(order_id + 2, contract, order)
    request, code, _ = ibapi_app.wait_for("error", lambda a: a[1] < 2100)
    assert (request, code) == (order_id + 2, 103)


def test_ibapi_an_order_before_the_open_waits_with_ibs_399_notice() -> None:
    # Outside regular hours an order without outsideRth is held until the open, with IB's 399
    # "Order Message: ... Warning: your order will not be placed at the exchange until
    # 2016-10-06 09:30:00" (the IB-Matlab guide's example of the gateway's text,
    # http://undocumentedmatlab.com/files/IB-Matlab_User_Guide/IB-Matlab_User_Guide-25.html;
    # 399 "Order message error" in https://interactivebrokers.github.io/tws-api/message_codes.html).
    # ibapi 9.81 hears it through EWrapper.error under the order id, before the PreSubmitted.
    before_open = dt.datetime(2026, 3, 3, 8, 23, tzinfo=ZoneInfo("America/New_York"))
    config = SimulatorConfig(start_time=before_open, clock_speed=0, port=0, tick_rate=0)
    with _ibapi_client(config) as app:
        (order_id,) = app.wait_for("nextValidId")
        order = Order()
        order.action, order.orderType, order.totalQuantity = "BUY", "MKT", 10
        app.placeOrder(order_id, _stock("AAPL"), order)
        request, code, text = app.wait_for("error", lambda a: a[1] < 2100)
        assert (request, code) == (order_id, 399)
        assert text == (
            "Order Message:\nBUY 10 AAPL NASDAQ.NMS\nWarning: your order will not be placed "
            "at the exchange until 2026-03-03 09:30:00 US/Eastern"
        )
        app.wait_for("openOrder")
        _, status, filled = app.wait_for("orderStatus", lambda a: a[0] == order_id)
        assert (status, filled) == ("PreSubmitted", 0)
