"""Orders by the clock: when an order may work, when IB holds it, and when its time in force ends.

What IB does, and the simulator with it:
- Outside regular trading hours an order without outsideRth is accepted but held
  (PreSubmitted) until the open, and IB says so with warning 399 "Order Message: ... Warning:
  your order will not be placed at the exchange until <open> US/Eastern" (code 399 in
  https://interactivebrokers.github.io/tws-api/message_codes.html; the text as gateways send it
  is quoted by client code that parses it, e.g. "Warning: your order will not be placed at the
  exchange until 2016-03-28 09:30:00 US/Eastern").
- outsideRth lets an order "trigger or fill outside of regular trading hours" (ibapi's
  Order.outsideRth) in the pre-market and after-hours sessions. A market order never works
  outside regular hours: IB clears the flag and warns with 2109 "Order Event Warning:
  Attribute 'Outside Regular Trading Hours' is ignored based on the order type and
  destination. PlaceOrder is now being processed." (message codes page above; the flag coming
  back False is reported in github.com/erdewit/ib_insync/issues/141).
- DAY orders end at the close of the session they work in (the regular close, or the end of
  after-hours with outsideRth); IB cancels them: orderStatus Cancelled and error 202.
- GTD orders end at their goodTillDate; GTC orders stay until cancelled.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from ibkr_simulator.clock import Clock, parse_ib_datetime
from ibkr_simulator.order_events import OrderRejected
from ibkr_simulator.order_model import MARKET, SimulatedOrder
from ibkr_simulator.trading_calendar import (
    IB_ZONE_NAME,
    NEW_YORK,
    Phase,
    TradingCalendar,
    calendar_for,
)

logger = logging.getLogger(__name__)

ORDER_MESSAGE: int = 399
OUTSIDE_HOURS_IGNORED: int = 2109
OUTSIDE_HOURS_IGNORED_TEXT = (
    "Order Event Warning: Attribute 'Outside Regular Trading Hours' is ignored based on the "
    "order type and destination. PlaceOrder is now being processed."
)
EXPIRED_REASON = "Order expired"


def calendar_of(order: SimulatedOrder) -> TradingCalendar:
    return calendar_for(is_forex=order.contract.is_forex)


def extended_hours(order: SimulatedOrder) -> bool:
    """Whether the order may work in the pre-market and after-hours sessions."""
    return order.outside_regular_hours and order.order_type != MARKET


def may_work(order: SimulatedOrder, moment: dt.datetime) -> bool:
    phase = calendar_of(order).phase(moment)
    if phase is Phase.REGULAR:
        return True
    return phase is not Phase.CLOSED and extended_hours(order)


def expiry(order: SimulatedOrder, moment: dt.datetime) -> dt.datetime | None:
    """When the order's time in force ends; None for orders that stay (GTC) or end on their
    own (IOC, FOK)."""
    calendar = calendar_of(order)
    regular_only = not extended_hours(order)
    if order.time_in_force == "DAY":
        session = calendar.next_session(moment, regular_only=regular_only)
        return session.bounds(regular_only=regular_only)[1]
    if order.time_in_force == "GTD":
        return good_till(order.good_till_date, calendar, regular_only=regular_only)
    return None


def good_till(text: str, calendar: TradingCalendar, *, regular_only: bool) -> dt.datetime | None:
    """goodTillDate as IB takes it: 'YYYYMMDD HH:MM:SS [zone]' (no zone: New York, the
    exchange's), 'YYYYMMDD-HH:MM:SS' in UTC, or a date alone (that day's close)."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        if len(stripped) == 8 and stripped.isdigit():
            day = dt.datetime.strptime(stripped, "%Y%m%d").date()  # noqa: DTZ007  a date, no time
            session = calendar.session(day)
            if session is None:
                return dt.datetime.combine(day, dt.time(23, 59, 59), NEW_YORK).astimezone(dt.UTC)
            return session.bounds(regular_only=regular_only)[1]
        parts = stripped.split()
        if "-" not in stripped and len(parts) == 2:
            stripped += " America/New_York"
        return parse_ib_datetime(stripped, dt.datetime.now(dt.UTC))
    except (ValueError, KeyError):
        logger.warning("unreadable goodTillDate %r: the order is kept like GTC", text)
        return None


def held_message(order: SimulatedOrder, opens: dt.datetime) -> str:
    contract = order.contract
    venue = (
        contract.exchange
        if contract.is_forex
        else contract.primary_exchange + (".NMS" if contract.primary_exchange == "NASDAQ" else "")
    )
    quantity = f"{order.total_quantity:g}"
    symbol = contract.local_symbol or contract.symbol
    when = opens.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"Order Message:\n{order.action} {quantity} {symbol} {venue}\n"
        f"Warning: your order will not be placed at the exchange until {when} {IB_ZONE_NAME}"
    )


class OrderSchedule:
    """The clock-dependent part of each order: its expiry, and whether IB is holding it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._expiries: dict[int, dt.datetime | None] = {}
        # permIds of orders held until their market opens.
        self._held: set[int] = set()

    def admit(self, order: SimulatedOrder) -> list[OrderRejected]:
        """A new or modified order reaches the gateway: the warnings IB sends about its hours."""
        now = self._clock()
        notices: list[OrderRejected] = []
        if order.order_type == MARKET and order.outside_regular_hours:
            order.outside_regular_hours = False
            if not order.contract.is_forex:
                notices.append(
                    self._notice(order, OUTSIDE_HOURS_IGNORED, OUTSIDE_HOURS_IGNORED_TEXT)
                )
        self._expiries[order.perm_id] = expiry(order, now)
        if may_work(order, now):
            self._held.discard(order.perm_id)
        elif order.perm_id not in self._held:
            self._held.add(order.perm_id)
            opens = calendar_of(order).next_open(now, regular_only=not extended_hours(order))
            notices.append(self._notice(order, ORDER_MESSAGE, held_message(order, opens)))
        return notices

    def may_work(self, order: SimulatedOrder) -> bool:
        return may_work(order, self._clock())

    def expired(self, orders: Iterable[SimulatedOrder]) -> list[SimulatedOrder]:
        """Working orders whose time in force has ended."""
        now = self._clock()
        found = []
        for order in orders:
            ends = self._expiries.get(order.perm_id)
            if ends is not None and ends <= now and not order.is_done:
                found.append(order)
        return found

    def released(self, orders: Iterable[SimulatedOrder]) -> list[SimulatedOrder]:
        """Held orders whose market has opened; they are no longer held."""
        now = self._clock()
        found = []
        for order in orders:
            if order.perm_id in self._held and may_work(order, now):
                self._held.discard(order.perm_id)
                found.append(order)
        return found

    def is_held(self, order: SimulatedOrder) -> bool:
        return order.perm_id in self._held

    @staticmethod
    def _notice(order: SimulatedOrder, code: int, text: str) -> OrderRejected:
        # IB delivers warnings about an order through the same error callback as refusals.
        return OrderRejected(order.client_id, order.order_id, code, text)
