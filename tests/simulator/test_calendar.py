"""Trading hours: the calendars, the simulated clock, and orders by the clock, with real ib_async.

Sources: NYSE's holidays and hours (https://www.nyse.com/markets/hours-calendars and NYSE's
yearly holiday announcements, e.g. "NYSE Group announces 2022, 2023 and 2024 holiday and early
closings calendar": early closes at 1:00 p.m., late trading sessions to 5:00 p.m.); IB's
message codes (https://interactivebrokers.github.io/tws-api/message_codes.html: 399 "Order
message error", 2109 "Outside Regular Trading Hours is ignored"); ibapi's Order.outsideRth
("allows orders to also trigger or fill outside of regular trading hours").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, Contract, ContractDetails, Forex, LimitOrder, MarketOrder, Stock, Trade

from ibkr_simulator import Simulator, SimulatorConfig
from ibkr_simulator.clock import SimulatedClock
from ibkr_simulator.command_line import build_parser, config_from_arguments
from ibkr_simulator.control import execute
from ibkr_simulator.trading_calendar import (
    FOREX,
    US_EQUITIES,
    Phase,
    latest_regular_open,
    nyse_early_closes,
    nyse_holidays,
)
from tests.simulator.support import connected, eventually

NEW_YORK = ZoneInfo("America/New_York")


def new_york(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK).astimezone(dt.UTC)


# The calendar ----------------------------------------------------------------------------------

# NYSE's published holiday calendars (observed dates).
PUBLISHED_HOLIDAYS = {
    2021: ["01-01", "01-18", "02-15", "04-02", "05-31", "07-05", "09-06", "11-25", "12-24"],
    # 2022: New Year's Day fell on a Saturday and was not observed (NYSE Rule 7.2).
    2022: ["01-17", "02-21", "04-15", "05-30", "06-20", "07-04", "09-05", "11-24", "12-26"],
    2023: [
        "01-02",
        "01-16",
        "02-20",
        "04-07",
        "05-29",
        "06-19",
        "07-04",
        "09-04",
        "11-23",
        "12-25",
    ],
    2024: [
        "01-01",
        "01-15",
        "02-19",
        "03-29",
        "05-27",
        "06-19",
        "07-04",
        "09-02",
        "11-28",
        "12-25",
    ],
    2025: [
        "01-01",
        "01-20",
        "02-17",
        "04-18",
        "05-26",
        "06-19",
        "07-04",
        "09-01",
        "11-27",
        "12-25",
    ],
    2026: [
        "01-01",
        "01-19",
        "02-16",
        "04-03",
        "05-25",
        "06-19",
        "07-03",
        "09-07",
        "11-26",
        "12-25",
    ],
    2027: [
        "01-01",
        "01-18",
        "02-15",
        "03-26",
        "05-31",
        "06-18",
        "07-05",
        "09-06",
        "11-25",
        "12-24",
    ],
}
PUBLISHED_EARLY_CLOSES = {
    2021: ["11-26"],
    2022: ["11-25"],
    2023: ["07-03", "11-24"],
    2024: ["07-03", "11-29", "12-24"],
    2025: ["07-03", "11-28", "12-24"],
    2026: ["11-27", "12-24"],
    2027: ["11-26"],
}


@pytest.mark.parametrize("year", sorted(PUBLISHED_HOLIDAYS))
def test_nyse_holidays_match_the_published_calendar(year: int) -> None:
    assert [f"{day:%m-%d}" for day in sorted(nyse_holidays(year))] == PUBLISHED_HOLIDAYS[year]


@pytest.mark.parametrize("year", sorted(PUBLISHED_EARLY_CLOSES))
def test_nyse_early_closes_match_the_published_calendar(year: int) -> None:
    assert [f"{day:%m-%d}" for day in sorted(nyse_early_closes(year))] == (
        PUBLISHED_EARLY_CLOSES[year]
    )


@pytest.mark.parametrize(
    ("moment", "phase"),
    [
        (new_york(2026, 3, 3, 3, 59), Phase.CLOSED),
        (new_york(2026, 3, 3, 4, 0), Phase.PRE_MARKET),
        (new_york(2026, 3, 3, 9, 29), Phase.PRE_MARKET),
        (new_york(2026, 3, 3, 9, 30), Phase.REGULAR),
        (new_york(2026, 3, 3, 15, 59), Phase.REGULAR),
        (new_york(2026, 3, 3, 16, 0), Phase.AFTER_HOURS),
        (new_york(2026, 3, 3, 20, 0), Phase.CLOSED),
        (new_york(2026, 3, 7, 12, 0), Phase.CLOSED),  # Saturday
        (new_york(2026, 3, 8, 12, 0), Phase.CLOSED),  # Sunday
        (new_york(2026, 4, 3, 12, 0), Phase.CLOSED),  # Good Friday
        (new_york(2026, 11, 27, 12, 59), Phase.REGULAR),  # day after Thanksgiving: 13:00 close
        (new_york(2026, 11, 27, 13, 0), Phase.AFTER_HOURS),
        (new_york(2026, 11, 27, 17, 0), Phase.CLOSED),  # late trading ends at 17:00
    ],
)
def test_us_equity_phases(moment: dt.datetime, phase: Phase) -> None:
    assert US_EQUITIES.phase(moment) is phase


@pytest.mark.parametrize(
    ("day", "open_utc"),
    [
        (dt.date(2026, 3, 6), dt.datetime(2026, 3, 6, 14, 30, tzinfo=dt.UTC)),  # EST
        (dt.date(2026, 3, 9), dt.datetime(2026, 3, 9, 13, 30, tzinfo=dt.UTC)),  # EDT from Mar 8
        (dt.date(2026, 10, 30), dt.datetime(2026, 10, 30, 13, 30, tzinfo=dt.UTC)),
        (dt.date(2026, 11, 2), dt.datetime(2026, 11, 2, 14, 30, tzinfo=dt.UTC)),  # EST from Nov 1
    ],
)
def test_the_open_is_09_30_new_york_across_daylight_saving_changes(
    day: dt.date, open_utc: dt.datetime
) -> None:
    session = US_EQUITIES.session(day)
    assert session is not None
    assert session.regular_open == open_utc
    assert session.regular_close - session.regular_open == dt.timedelta(hours=6, minutes=30)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (new_york(2026, 3, 6, 16, 59), True),  # Friday before 17:00
        (new_york(2026, 3, 6, 17, 0), False),  # the week ends Friday 17:00
        (new_york(2026, 3, 7, 12, 0), False),
        (new_york(2026, 3, 8, 16, 59), False),
        (new_york(2026, 3, 8, 17, 0), True),  # and starts Sunday 17:00
        (new_york(2026, 3, 9, 3, 0), True),
    ],
)
def test_forex_trades_from_sunday_to_friday_17_00_new_york(
    moment: dt.datetime, open_: bool
) -> None:
    assert (FOREX.phase(moment) is Phase.REGULAR) is open_


def test_the_next_open_skips_weekends_and_holidays() -> None:
    # Thursday before Good Friday 2026, after the close: next open is Monday.
    after_close = new_york(2026, 4, 2, 16, 30)
    assert US_EQUITIES.next_open(after_close, regular_only=True) == new_york(2026, 4, 6, 9, 30)
    assert US_EQUITIES.next_open(after_close, regular_only=False) == after_close
    assert latest_regular_open(new_york(2026, 4, 4, 12, 0)) == new_york(2026, 4, 2, 9, 30)


# The clock -------------------------------------------------------------------------------------


class ManualSource:
    def __init__(self) -> None:
        self.now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_simulated_clock_runs_at_its_speed_from_its_start() -> None:
    source = ManualSource()
    start = new_york(2026, 3, 3, 10)
    clock = SimulatedClock(start, 60.0, source=source)
    assert clock() == start
    source.now += dt.timedelta(seconds=10)
    assert clock() == start + dt.timedelta(minutes=10)
    clock.advance(3600)
    assert clock() == start + dt.timedelta(minutes=70)
    clock.set_speed(0)
    source.now += dt.timedelta(hours=5)
    assert clock() == start + dt.timedelta(minutes=70)
    clock.set_time(new_york(2026, 3, 4, 9, 30))
    assert clock() == new_york(2026, 3, 4, 9, 30)


def test_without_a_start_the_clock_is_the_wall_clock() -> None:
    clock = SimulatedClock()
    assert abs(clock() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=1)


# Orders by the clock ---------------------------------------------------------------------------


@pytest.fixture
async def market() -> AsyncIterator[Simulator]:
    """A simulator whose clock stands still until the test moves it."""
    config = SimulatorConfig(
        port=0, tick_rate=0, start_time=new_york(2026, 3, 3, 10), clock_speed=0
    )
    async with Simulator(config) as simulator:
        yield simulator


class Errors:
    """Every error and warning ib_async reports, as (reqId, code, message)."""

    def __init__(self, ib: IB) -> None:
        self.seen: list[tuple[int, int, str]] = []
        ib.errorEvent += self._on_error

    def _on_error(self, request_id: int, code: int, message: str, _contract: object) -> None:
        self.seen.append((request_id, code, message))

    def codes(self, request_id: int) -> list[int]:
        return [code for rid, code, _ in self.seen if rid == request_id]

    def message(self, request_id: int, code: int) -> str:
        return next(text for rid, c, text in self.seen if rid == request_id and c == code)


async def qualified(ib: IB, contract: Contract) -> Contract:
    [found] = await ib.qualifyContractsAsync(contract)
    assert isinstance(found, Contract)
    return found


async def settle(ib: IB) -> None:
    """A round trip: everything the gateway sent before it has arrived."""
    await ib.reqCurrentTimeAsync()


async def test_an_order_before_the_open_waits_for_it_with_ibs_399_notice(market: Simulator) -> None:
    market.set_time(new_york(2026, 3, 3, 8, 23))
    market.set_price("AAPL", 150.0)
    async with connected(market) as ib:
        errors = Errors(ib)
        contract = await qualified(ib, Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10))
        await eventually(lambda: trade.orderStatus.status == "PreSubmitted")
        await settle(ib)
        assert trade.fills == []
        assert errors.codes(trade.order.orderId) == [399]
        assert errors.message(trade.order.orderId, 399) == (
            "Order Message:\nBUY 10 AAPL NASDAQ.NMS\nWarning: your order will not be placed "
            "at the exchange until 2026-03-03 09:30:00 US/Eastern"
        )
        market.set_time(new_york(2026, 3, 3, 9, 30))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert trade.fills[0].execution.time == new_york(2026, 3, 3, 9, 30)


async def test_a_market_order_never_works_outside_regular_hours(market: Simulator) -> None:
    market.set_time(new_york(2026, 3, 3, 17, 0))
    async with connected(market) as ib:
        errors = Errors(ib)
        contract = await qualified(ib, Stock("MSFT", "SMART", "USD"))
        order = MarketOrder("BUY", 5)
        order.outsideRth = True
        trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "PreSubmitted")
        await settle(ib)
        assert errors.codes(trade.order.orderId) == [2109, 399]
        assert "until 2026-03-04 09:30:00 US/Eastern" in errors.message(trade.order.orderId, 399)
        assert trade.fills == []


async def test_a_limit_order_with_outside_rth_works_in_the_pre_market(market: Simulator) -> None:
    market.set_time(new_york(2026, 3, 3, 7, 0))
    market.set_price("IBM", 180.0)
    async with connected(market) as ib:
        errors = Errors(ib)
        contract = await qualified(ib, Stock("IBM", "SMART", "USD"))
        order = LimitOrder("BUY", 3, 200.0)
        order.outsideRth = True
        trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert errors.codes(trade.order.orderId) == []


async def test_day_orders_are_cancelled_at_the_close_and_gtc_orders_stay(market: Simulator) -> None:
    market.set_price("AAPL", 150.0)
    async with connected(market) as ib:
        errors = Errors(ib)
        contract = await qualified(ib, Stock("AAPL", "SMART", "USD"))
        day = ib.placeOrder(contract, LimitOrder("BUY", 1, 100.0))
        good_till_cancelled = ib.placeOrder(contract, LimitOrder("BUY", 1, 100.0, tif="GTC"))
        extended = LimitOrder("BUY", 1, 100.0)
        extended.outsideRth = True
        extended_day = ib.placeOrder(contract, extended)
        await eventually(lambda: good_till_cancelled.orderStatus.status == "Submitted")
        market.set_time(new_york(2026, 3, 3, 15, 59, 59))
        await settle(ib)
        assert day.orderStatus.status == "Submitted"
        market.set_time(new_york(2026, 3, 3, 16, 0))
        await eventually(lambda: day.orderStatus.status == "Cancelled")
        assert errors.codes(day.order.orderId) == [202]
        assert extended_day.orderStatus.status == "Submitted"  # works until 20:00
        market.set_time(new_york(2026, 3, 3, 20, 0))
        await eventually(lambda: extended_day.orderStatus.status == "Cancelled")
        market.set_time(new_york(2026, 3, 4, 9, 30))
        await settle(ib)
        assert good_till_cancelled.orderStatus.status == "Submitted"


async def test_a_gtd_order_expires_at_its_good_till_date(market: Simulator) -> None:
    market.set_price("AAPL", 150.0)
    async with connected(market) as ib:
        contract = await qualified(ib, Stock("AAPL", "SMART", "USD"))
        order = LimitOrder("BUY", 1, 100.0, tif="GTD", goodTillDate="20260303 11:00:00 US/Eastern")
        trade: Trade = ib.placeOrder(contract, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        market.advance(59 * 60)
        await settle(ib)
        assert trade.orderStatus.status == "Submitted"
        market.advance(60)
        await eventually(lambda: trade.orderStatus.status == "Cancelled")


async def test_a_weekend_order_waits_for_monday_and_forex_for_sunday_evening(
    market: Simulator,
) -> None:
    market.set_time(new_york(2026, 3, 7, 12, 0))  # Saturday
    async with connected(market) as ib:
        errors = Errors(ib)
        stock = await qualified(ib, Stock("AAPL", "SMART", "USD"))
        euro = await qualified(ib, Forex("EURUSD"))
        stock_trade = ib.placeOrder(stock, MarketOrder("BUY", 1))
        fx_trade = ib.placeOrder(euro, MarketOrder("BUY", 20_000))
        await eventually(lambda: fx_trade.orderStatus.status == "PreSubmitted")
        await settle(ib)
        assert "until 2026-03-09 09:30:00 US/Eastern" in errors.message(
            stock_trade.order.orderId, 399
        )
        assert "until 2026-03-08 17:00:00 US/Eastern" in errors.message(fx_trade.order.orderId, 399)
        market.set_time(new_york(2026, 3, 8, 17, 0))
        await eventually(lambda: fx_trade.orderStatus.status == "Filled")
        assert stock_trade.orderStatus.status == "PreSubmitted"


async def test_expire_day_orders_runs_the_close_whatever_the_time(market: Simulator) -> None:
    async with connected(market) as ib:
        contract = await qualified(ib, Stock("AAPL", "SMART", "USD"))
        trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.0))
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        market.expire_day_orders()
        await eventually(lambda: trade.orderStatus.status == "Cancelled")


async def test_the_control_port_reads_and_moves_the_clock(market: Simulator) -> None:
    assert await execute(market, "time") == (
        "ok time=2026-03-03T15:00:00+00:00 speed=0 us_equities=regular"
    )
    assert await execute(market, "set-time 2026-03-03T16:00:00-05:00") == (
        "ok time=2026-03-03T21:00:00+00:00 speed=0 us_equities=after-hours"
    )
    assert await execute(market, "advance 14400") == (
        "ok time=2026-03-04T01:00:00+00:00 speed=0 us_equities=closed"
    )
    assert (await execute(market, "clock-speed 60")).startswith("ok time=2026-03-04T01:00")
    assert await execute(market, "set-time 2026-03-03T16:00:00") == (
        "error '2026-03-03T16:00:00' has no UTC offset (add Z or e.g. -05:00)"
    )
    assert (await execute(market, "advance -5")).startswith("error ")


def test_the_command_line_takes_a_start_time_and_a_speed() -> None:
    arguments = build_parser().parse_args(
        ["--start-time", "2026-03-03T10:00:00-05:00", "--clock-speed", "60"]
    )
    config = config_from_arguments(arguments)
    assert config.start_time == new_york(2026, 3, 3, 10)
    assert config.clock_speed == 60
    assert config_from_arguments(build_parser().parse_args([])).start_time is None


# contractDetails' hours --------------------------------------------------------------------------


async def _details(ib: IB, contract: Contract) -> ContractDetails:
    [details] = await ib.reqContractDetailsAsync(contract)
    return details


async def test_contract_details_give_the_calendars_hours_with_holidays_closed(
    market: Simulator,
) -> None:
    # IB's ContractDetails.tradingHours: "In TWS version 970+, the format includes the date of
    # the closing time to clarify potential ambiguity, ex:
    # 20180323:0400-20180323:2000;20180326:0400-20180326:2000", a day without trading as
    # "20090508:CLOSED"; liquidHours are the regular hours
    # (https://interactivebrokers.github.io/tws-api/classIBApi_1_1ContractDetails.html). A
    # current gateway covers the day and the five after it (ib_async's
    # ContractDetails._parseSessions quotes '20240721:CLOSED;20240722:0400-20240722:2000;...
    # 20240726:0400-20240726:2000'). Good Friday, April 3 2026, is an NYSE holiday.
    market.set_time(new_york(2026, 4, 2, 10))
    async with connected(market) as ib:
        details = await _details(ib, Stock("AAPL", "SMART", "USD"))
        assert details.tradingHours == (
            "20260402:0400-20260402:2000;20260403:CLOSED;20260404:CLOSED;20260405:CLOSED;"
            "20260406:0400-20260406:2000;20260407:0400-20260407:2000"
        )
        assert details.liquidHours == (
            "20260402:0930-20260402:1600;20260403:CLOSED;20260404:CLOSED;20260405:CLOSED;"
            "20260406:0930-20260406:1600;20260407:0930-20260407:1600"
        )
        sessions = details.liquidSessions()
        assert [session.start for session in sessions] == [
            new_york(2026, 4, day, 9, 30) for day in (2, 6, 7)
        ]
        forex = await _details(ib, Forex("EURUSD"))
        assert forex.tradingHours.split(";")[:3] == [
            "20260401:1700-20260402:1700",
            "20260402:1700-20260403:1700",
            "20260404:CLOSED",
        ]
        assert forex.liquidHours == forex.tradingHours


async def test_contract_details_show_an_early_close(market: Simulator) -> None:
    # The day after Thanksgiving closes at 13:00, late trading to 17:00.
    market.set_time(new_york(2026, 11, 25, 12))
    async with connected(market) as ib:
        details = await _details(ib, Stock("MSFT", "SMART", "USD"))
        assert details.tradingHours.split(";")[:3] == [
            "20261125:0400-20261125:2000",
            "20261126:CLOSED",
            "20261127:0400-20261127:1700",
        ]
        assert details.liquidHours.split(";")[2] == "20261127:0930-20261127:1300"
