"""The derivatives the simulated market lists: equity-index futures, options on stocks and on futures.

Listings are computed from the New York date the simulator starts on, so the same date always
lists the same contracts with the same conIds:
- Futures (ES and NQ on CME): the next five quarterly contracts (March, June, September,
  December; month codes H, M, U, Z), each expiring on the third Friday of its month (the
  trading day before when that Friday is an exchange holiday).
- Options on every stock and ETF (SMART, multiplier 100, trading class = symbol): the next four
  Friday expiries and the monthly expiries (third Fridays) of the next three months, strikes
  within 20% of the stock's reference price on a grid that widens with the price.
- Options on the two nearest futures of each root (FOP on CME, the future's multiplier,
  trading class = root symbol), expiring with their future, strikes within 10% of it.
Every contract expires at the regular close (16:00 New York) of its last trading day.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ibkr_simulator.contracts import ContractSpec
from ibkr_simulator.option_pricing import RISK_FREE_RATE
from ibkr_simulator.trading_calendar import US_EQUITIES

QUARTER_MONTHS = {3: "H", 6: "M", 9: "U", 12: "Z"}
LISTED_QUARTERS = 5
OPTIONED_QUARTERS = 2
WEEKLY_EXPIRIES = 4
MONTHLY_EXPIRIES = 3
STOCK_STRIKE_RANGE = 0.20
FUTURE_STRIKE_RANGE = 0.10
FRIDAY = 4
# The option exchanges a stock option is listed on; reqSecDefOptParams answers one row each.
OPTION_EXCHANGES = ("SMART", "AMEX", "BOX", "CBOE", "ISE", "PHLX")
# Generated conIds fall in this range, above every conId of the bundled stocks.
CON_ID_BASE = 400_000_000
CON_ID_SPAN = 1_600_000_000
# The equity index dividend yield: a future trades at spot times exp((r - q) T).
INDEX_DIVIDEND_YIELD = 0.013
STOCK_OPTION_MULTIPLIER = 100


@dataclass(frozen=True)
class FutureRoot:
    """One futures product and the index it tracks."""

    symbol: str
    long_name: str
    multiplier: int
    min_tick: float
    index_level: float
    annual_volatility: float
    option_strike_step: float
    option_min_tick: float


FUTURE_ROOTS = (
    FutureRoot("ES", "E-mini S&P 500", 50, 0.25, 5200.0, 0.15, 25.0, 0.05),
    FutureRoot("NQ", "E-mini Nasdaq-100", 20, 0.25, 18000.0, 0.20, 100.0, 0.05),
)


def expiry_day(year: int, month: int) -> dt.date:
    """The third Friday of the month, or the trading day before it when it is a holiday."""
    first = dt.date(year, month, 1)
    day = first + dt.timedelta(days=(FRIDAY - first.weekday()) % 7 + 14)
    return previous_trading_day(day)


def previous_trading_day(day: dt.date) -> dt.date:
    """`day` itself when the US market trades then, else the trading day before it."""
    for _ in range(10):
        if US_EQUITIES.session(day) is not None:
            return day
        day -= dt.timedelta(days=1)
    raise ValueError(f"no trading day in the ten days before {day}")


def _months_after(day: dt.date, count: int) -> Iterator[tuple[int, int]]:
    year, month = day.year, day.month
    for _ in range(count):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def quarterly_expiries(listing: dt.date, count: int = LISTED_QUARTERS) -> list[dt.date]:
    found: list[dt.date] = []
    for year, month in _months_after(listing, 3 * count + 3):
        if month in QUARTER_MONTHS and expiry_day(year, month) >= listing:
            found.append(expiry_day(year, month))
    return found[:count]


def stock_option_expiries(listing: dt.date) -> list[dt.date]:
    """The next four Friday expiries and the next three monthly ones, nearest first."""
    found: set[dt.date] = set()
    friday = listing + dt.timedelta(days=(FRIDAY - listing.weekday()) % 7)
    for week in range(WEEKLY_EXPIRIES):
        found.add(previous_trading_day(friday + dt.timedelta(weeks=week)))
    monthly = [expiry_day(year, month) for year, month in _months_after(listing, 4)]
    found.update([day for day in monthly if day >= listing][:MONTHLY_EXPIRIES])
    return sorted(day for day in found if day >= listing)


def strike_step(price: float) -> float:
    """The strike grid of a stock's options: wider for dearer stocks, as listed options are."""
    for limit, step in ((25.0, 0.5), (100.0, 1.0), (250.0, 2.5), (500.0, 5.0)):
        if price < limit:
            return step
    return 10.0


def strikes_around(price: float, step: float, fraction: float) -> list[float]:
    low = math.ceil(price * (1 - fraction) / step)
    high = math.floor(price * (1 + fraction) / step)
    return [round(index * step, 4) for index in range(max(low, 1), high + 1)]


def occ_symbol(symbol: str, expiry: dt.date, right: str, strike: float) -> str:
    """The OCC option symbol IB uses as an equity option's localSymbol ('AAPL  260320C00190000')."""
    return f"{symbol:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


def future_local_symbol(root: str, expiry: dt.date) -> str:
    return f"{root}{QUARTER_MONTHS[expiry.month]}{expiry.year % 10}"


def _strike_text(strike: float) -> str:
    return f"{strike:g}"


class _ConIds:
    """Stable conIds from each contract's identity, probing past the rare collision."""

    def __init__(self, taken: Iterable[int]) -> None:
        self._taken = set(taken)

    def allocate(self, identity: str) -> int:
        digest = hashlib.sha256(identity.encode()).digest()
        con_id = CON_ID_BASE + int.from_bytes(digest[:8], "big") % CON_ID_SPAN
        while con_id in self._taken:
            con_id += 1
        self._taken.add(con_id)
        return con_id


def _years_between(start: dt.date, end: dt.date) -> float:
    return max(0, (end - start).days) / 365.0


def list_derivatives(underlyings: Iterable[ContractSpec], listing: dt.date) -> list[ContractSpec]:
    """Every future and option listed on `listing` (a New York date)."""
    stocks = sorted(
        (contract for contract in underlyings if contract.sec_type == "STK"),
        key=lambda contract: contract.symbol,
    )
    return list(_listed(tuple(stocks), listing))


# The specs are immutable, so simulators started on the same day share one listing.
@functools.lru_cache(maxsize=4)
def _listed(stocks: tuple[ContractSpec, ...], listing: dt.date) -> tuple[ContractSpec, ...]:
    con_ids = _ConIds(contract.con_id for contract in stocks)
    listed: list[ContractSpec] = []
    for root in FUTURE_ROOTS:
        futures = _futures(root, listing, con_ids)
        listed += futures
        for future in futures[:OPTIONED_QUARTERS]:
            listed += _future_options(root, future, con_ids)
    for stock in stocks:
        listed += _stock_options(stock, listing, con_ids)
    return tuple(listed)


def _futures(root: FutureRoot, listing: dt.date, con_ids: _ConIds) -> list[ContractSpec]:
    contracts: list[ContractSpec] = []
    for expiry in quarterly_expiries(listing):
        carry = RISK_FREE_RATE - INDEX_DIVIDEND_YIELD
        price = root.index_level * math.exp(carry * _years_between(listing, expiry))
        contracts.append(
            ContractSpec(
                con_id=con_ids.allocate(f"FUT:{root.symbol}:{expiry:%Y%m%d}"),
                symbol=root.symbol,
                sec_type="FUT",
                exchange="CME",
                primary_exchange="",
                currency="USD",
                local_symbol=future_local_symbol(root.symbol, expiry),
                trading_class=root.symbol,
                long_name=root.long_name,
                min_tick=root.min_tick,
                initial_price=round(price / root.min_tick) * root.min_tick,
                annual_volatility=root.annual_volatility,
                valid_exchanges=("CME",),
                last_trade_date=f"{expiry:%Y%m%d}",
                multiplier=str(root.multiplier),
                underlying_symbol=root.symbol,
                underlying_sec_type="IND",
                contract_month=f"{expiry:%Y%m}",
            )
        )
    return contracts


def _future_options(root: FutureRoot, future: ContractSpec, con_ids: _ConIds) -> list[ContractSpec]:
    strikes = strikes_around(future.initial_price, root.option_strike_step, FUTURE_STRIKE_RANGE)
    return [
        _future_option(root, future, strike, right, con_ids)
        for strike in strikes
        for right in ("C", "P")
    ]


def _future_option(
    root: FutureRoot, future: ContractSpec, strike: float, right: str, con_ids: _ConIds
) -> ContractSpec:
    identity = f"FOP:{future.local_symbol}:{future.last_trade_date}:{right}:{strike}"
    return ContractSpec(
        con_id=con_ids.allocate(identity),
        symbol=root.symbol,
        sec_type="FOP",
        exchange="CME",
        primary_exchange="",
        currency="USD",
        local_symbol=f"{future.local_symbol} {right}{_strike_text(strike)}",
        trading_class=root.symbol,
        long_name=root.long_name,
        min_tick=root.option_min_tick,
        initial_price=root.option_min_tick,
        annual_volatility=root.annual_volatility,
        valid_exchanges=("CME",),
        last_trade_date=future.last_trade_date,
        strike=strike,
        right=right,
        multiplier=future.multiplier,
        underlying_con_id=future.con_id,
        underlying_symbol=future.local_symbol,
        underlying_sec_type="FUT",
        contract_month=future.contract_month,
    )


def _stock_options(stock: ContractSpec, listing: dt.date, con_ids: _ConIds) -> list[ContractSpec]:
    step = strike_step(stock.initial_price)
    strikes = strikes_around(stock.initial_price, step, STOCK_STRIKE_RANGE)
    contracts: list[ContractSpec] = []
    for expiry in stock_option_expiries(listing):
        for strike in strikes:
            for right in ("C", "P"):
                local_symbol = occ_symbol(stock.symbol, expiry, right, strike)
                contracts.append(
                    ContractSpec(
                        con_id=con_ids.allocate(f"OPT:{local_symbol}"),
                        symbol=stock.symbol,
                        sec_type="OPT",
                        exchange="SMART",
                        primary_exchange="",
                        currency=stock.currency,
                        local_symbol=local_symbol,
                        trading_class=stock.symbol,
                        long_name=stock.long_name,
                        min_tick=0.01,
                        initial_price=0.01,
                        annual_volatility=stock.annual_volatility,
                        valid_exchanges=OPTION_EXCHANGES,
                        industry=stock.industry,
                        category=stock.category,
                        subcategory=stock.subcategory,
                        time_zone=stock.time_zone,
                        last_trade_date=f"{expiry:%Y%m%d}",
                        strike=strike,
                        right=right,
                        multiplier=str(STOCK_OPTION_MULTIPLIER),
                        underlying_con_id=stock.con_id,
                        underlying_symbol=stock.symbol,
                        underlying_sec_type="STK",
                        contract_month=f"{expiry:%Y%m}",
                    )
                )
    return contracts
