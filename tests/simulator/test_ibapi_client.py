"""IB's own Python client (ibapi, the 9.81 release on PyPI, protocol versions up to 157)
against the simulator: the handshake and one order flow, through its threaded EClient."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator

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


@pytest.fixture
def ibapi_app(simulator_for_ibapi: tuple[str, int]) -> Iterator[RecordingApp]:
    host, port = simulator_for_ibapi
    app = RecordingApp()
    app.connect(host, port, clientId=7)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.disconnect()
        thread.join(timeout=5)


@pytest.fixture
def simulator_for_ibapi() -> Iterator[tuple[str, int]]:
    """The simulator on its own event loop thread, since ibapi blocks."""
    ready: queue.Queue[tuple[str, int]] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        async with Simulator(
            SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)
        ) as simulator:
            ready.put((simulator.host, simulator.port))
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_ibapi_handshake_and_a_limit_order_placed_and_cancelled(ibapi_app: RecordingApp) -> None:
    (order_id,) = ibapi_app.wait_for("nextValidId")
    assert isinstance(order_id, int)
    assert order_id > 0
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        "AAPL",
        "STK",
        "SMART",
        "USD",
    )
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
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        "AAPL",
        "STK",
        "SMART",
        "USD",
    )
    order = Order()
    order.action, order.orderType, order.totalQuantity, order.lmtPrice = "BUY", "LMT", 1, 50.0
    ibapi_app.placeOrder(order_id + 5, contract, order)
    ibapi_app.wait_for("orderStatus", lambda a: a[0] == order_id + 5)
    ibapi_app.placeOrder(order_id + 2, contract, order)
    request, code, _ = ibapi_app.wait_for("error", lambda a: a[1] < 2100)
    assert (request, code) == (order_id + 2, 103)
