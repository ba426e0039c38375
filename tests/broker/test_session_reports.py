"""The broker adapter on ib_async's real wrapper: the messages IB sends (openOrder, orderStatus,
error) are fed to ib_async's own Wrapper methods, the ones its decoder calls, and the reports
the session hands the services are checked. This is where ib_async's habit of marking a trade
Cancelled on any error that is not a warning (wrapper.error: "something is wrong with the
order, cancel it") is kept from becoming the order's status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ib_async import Contract, Order, OrderState, OrderStatus, Trade
from ib_async.objects import TradeLogEntry

from ibkr_grpc.broker.session import GatewaySession, SessionSettings
from ibkr_grpc.domain.broker_reports import (
    BrokerCommission,
    BrokerExecution,
    BrokerOpenOrder,
    BrokerOrderMessage,
    BrokerOrderStatus,
    OrderMessageKind,
)
from ibkr_grpc.domain.enums import OrderOrigin
from ibkr_grpc.domain.enums import OrderStatus as DomainStatus

CLIENT_ID = 11
AAPL = Contract(conId=265598, symbol="AAPL", secType="STK", exchange="SMART", currency="USD")


class Recorder:
    def __init__(self) -> None:
        self.reports: list[object] = []

    def order_status(self, report: BrokerOrderStatus) -> None:
        self.reports.append(report)

    def execution(self, report: BrokerExecution) -> None:
        self.reports.append(report)

    def commission(self, report: BrokerCommission) -> None:
        self.reports.append(report)

    def order_message(self, report: BrokerOrderMessage) -> None:
        self.reports.append(report)

    def open_order(self, report: BrokerOpenOrder) -> None:
        self.reports.append(report)

    def of(self, kind: type[object]) -> list[object]:
        return [report for report in self.reports if isinstance(report, kind)]


@pytest.fixture
def session() -> tuple[GatewaySession, Recorder]:
    gateway = GatewaySession(
        SessionSettings("127.0.0.1", 4002, CLIENT_ID), clock=lambda: datetime.now(UTC)
    )
    gateway.ib.wrapper.clientId = CLIENT_ID
    recorder = Recorder()

    async def reconcile(_snapshot: object) -> None:
        return None

    gateway.attach(recorder, reconcile)
    return gateway, recorder


def working_order(gateway: GatewaySession, order_id: int, *, client_id: int = CLIENT_ID) -> Trade:
    """IB describes a working order: openOrder, then orderStatus Submitted."""
    wrapper = gateway.ib.wrapper
    order = Order(
        orderId=order_id,
        clientId=client_id,
        permId=1_000_000 + order_id,
        action="BUY",
        totalQuantity=10,
        orderType="LMT",
        lmtPrice=100.0,
        orderRef=f"ord_{order_id}" if client_id == CLIENT_ID else "",
        account="DU1234567",
    )
    wrapper.openOrder(order_id, AAPL, order, OrderState(status="Submitted"))
    wrapper.orderStatus(order_id, "Submitted", 0, 10, 0, order.permId, 0, 0, client_id, "")
    key = wrapper.orderKey(client_id, order_id, order.permId)
    return wrapper.trades[key]


def new_order(gateway: GatewaySession, order_id: int) -> Trade:
    """A trade as ib_async's placeOrder leaves it: PendingSubmit, nothing from IB yet."""
    order = Order(
        orderId=order_id, clientId=CLIENT_ID, action="BUY", totalQuantity=10, orderType="MKT"
    )
    entry = TradeLogEntry(datetime.now(UTC), OrderStatus.PendingSubmit)
    trade = Trade(
        AAPL, order, OrderStatus(orderId=order_id, status=OrderStatus.PendingSubmit), [], [entry]
    )
    gateway.ib.wrapper.trades[(CLIENT_ID, order_id)] = trade
    return trade


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (201, OrderMessageKind.REJECTION),
        (104, OrderMessageKind.MODIFY_REFUSAL),
        (10147, OrderMessageKind.CANCEL_REFUSAL),
        (161, OrderMessageKind.CANCEL_REFUSAL),
        (99999, OrderMessageKind.UNKNOWN),
    ],
)
def test_an_error_about_a_working_order_leaves_it_working(
    session: tuple[GatewaySession, Recorder], code: int, kind: OrderMessageKind
) -> None:
    """A refused modification or cancel: ib_async marks the trade Cancelled; IB did not cancel
    it (real logs: https://github.com/erdewit/ib_insync/issues/502 (110 on a modify, "original
    order is still open"), https://github.com/erdewit/ib_insync/issues/690 (10147))."""
    gateway, recorder = session
    trade = working_order(gateway, 5)
    before = len(recorder.of(BrokerOrderStatus))
    gateway.ib.wrapper.error(5, code, "refused", "")
    assert len(recorder.of(BrokerOrderStatus)) == before  # no Cancelled reported
    (received,) = recorder.of(BrokerOrderMessage)
    assert received == BrokerOrderMessage(5, code, "refused", kind)
    # ib_async goes on treating the order as live: it can be modified and cancelled.
    assert trade.orderStatus.status == OrderStatus.Submitted
    assert trade in gateway.ib.openTrades()


def test_ib_refusing_a_new_order_leaves_it_dead(session: tuple[GatewaySession, Recorder]) -> None:
    gateway, recorder = session
    trade = new_order(gateway, 6)
    gateway.ib.wrapper.error(6, 201, "Order rejected - reason:no", "")
    assert recorder.of(BrokerOrderStatus) == []
    assert recorder.of(BrokerOrderMessage) == [
        BrokerOrderMessage(6, 201, "Order rejected - reason:no", OrderMessageKind.REJECTION)
    ]
    assert trade.orderStatus.status == OrderStatus.Cancelled


def test_a_warning_is_not_a_status(session: tuple[GatewaySession, Recorder]) -> None:
    """ib_async sets ValidationError on a warning (399, 404, 434, ...): not IB's status."""
    gateway, recorder = session
    working_order(gateway, 7)
    before = len(recorder.of(BrokerOrderStatus))
    gateway.ib.wrapper.error(7, 399, "Order Message: Warning", "")
    assert len(recorder.of(BrokerOrderStatus)) == before
    assert recorder.of(BrokerOrderMessage)[-1].kind is OrderMessageKind.WARNING  # type: ignore[attr-defined]


def test_ibs_own_cancel_is_reported(session: tuple[GatewaySession, Recorder]) -> None:
    """IB's cancel: orderStatus PendingCancel, Cancelled, then error 202."""
    gateway, recorder = session
    trade = working_order(gateway, 8)
    wrapper = gateway.ib.wrapper
    perm_id = trade.order.permId
    wrapper.orderStatus(8, "PendingCancel", 0, 10, 0, perm_id, 0, 0, CLIENT_ID, "")
    wrapper.orderStatus(8, "Cancelled", 0, 10, 0, perm_id, 0, 0, CLIENT_ID, "")
    wrapper.error(8, 202, "Order Canceled - reason:", "")
    statuses = [r.status for r in recorder.of(BrokerOrderStatus)]  # type: ignore[attr-defined]
    assert statuses[-2:] == [DomainStatus.PENDING_CANCEL, DomainStatus.CANCELLED]
    assert recorder.of(BrokerOrderMessage)[-1].kind is OrderMessageKind.CANCELLATION  # type: ignore[attr-defined]


def test_an_error_about_a_data_request_is_not_about_an_order(
    session: tuple[GatewaySession, Recorder],
) -> None:
    gateway, recorder = session
    gateway.ib.wrapper.error(42, 354, "Requested market data is not subscribed.", "")
    assert recorder.of(BrokerOrderMessage) == []


@pytest.mark.parametrize(
    ("order_id", "client_id", "origin"),
    [
        (3, CLIENT_ID, OrderOrigin.THIS_SERVER),
        (3, 7, OrderOrigin.OTHER_API_CLIENT),
        (0, 0, OrderOrigin.MANUAL),
        (-4, 0, OrderOrigin.MANUAL),
    ],
)
def test_open_orders_carry_their_origin(
    session: tuple[GatewaySession, Recorder], order_id: int, client_id: int, origin: OrderOrigin
) -> None:
    """Manual TWS orders come with order id 0, or negative once bound (IB's API settings page,
    https://ibkrguides.com/traderworkstation/api.htm; ib_async wrapper.orderKey)."""
    gateway, recorder = session
    working_order(gateway, order_id, client_id=client_id)
    (report,) = recorder.of(BrokerOpenOrder)
    assert report.origin is origin  # type: ignore[attr-defined]
    assert report.client_id == client_id  # type: ignore[attr-defined]
    assert report.perm_id == 1_000_000 + order_id  # type: ignore[attr-defined]


def test_an_open_order_reports_only_the_prices_its_type_has(
    session: tuple[GatewaySession, Recorder],
) -> None:
    """IB may fill a market order's limit price with 0 (or leave it unset); that is no limit."""
    gateway, recorder = session
    order = Order(
        orderId=9, clientId=CLIENT_ID, permId=9, action="SELL", totalQuantity=5, orderType="MKT",
        lmtPrice=0.0, auxPrice=0.0, orderRef="ord_9", account="DU1234567",
    )  # fmt: skip
    gateway.ib.wrapper.openOrder(9, AAPL, order, OrderState(status="Submitted"))
    (report,) = recorder.of(BrokerOpenOrder)
    terms = report.terms  # type: ignore[attr-defined]
    assert (terms.limit_price, terms.stop_price) == (None, None)
