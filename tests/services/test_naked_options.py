"""The naked short option count (services.naked_options) and the max_naked_short_options rule
beyond the at-the-limit table of test_risk_engine: cover across expiries, working orders that
take cover away, combinations, and commands that reduce the count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import pytest

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight, OrderType, SecurityType, Side
from ibkr_grpc.domain.errors import RiskRejectedError
from ibkr_grpc.domain.orders import ComboLeg, Order
from ibkr_grpc.domain.portfolio import Position
from ibkr_grpc.domain.risk import RiskLimits
from ibkr_grpc.services.exposure import pending
from ibkr_grpc.services.naked_options import naked_short_options
from ibkr_grpc.services.risk_engine import RiskEngine
from tests.services.risk_fakes import FakeExposure, FakeRiskRepository, FakeWorkingOrders, position
from tests.support.builders import EPOCH, make_order

STOCK = ContractSpec(symbol="AAPL", con_id=265598)


def option(
    con_id: int,
    right: OptionRight = OptionRight.CALL,
    strike: str = "190",
    expiry: str = "20260320",
    security_type: SecurityType = SecurityType.OPTION,
) -> ContractSpec:
    return ContractSpec(
        symbol="AAPL",
        security_type=security_type,
        con_id=con_id,
        last_trade_date_or_contract_month=expiry,
        strike=Decimal(strike),
        right=right,
        multiplier="100",
    )


MARCH_190 = option(1001)
MARCH_200 = option(1002, strike="200")
JUNE_200 = option(1004, strike="200", expiry="20260619")
JUNE_210 = option(1006, strike="210", expiry="20260619")


def held(quantity: str, contract: ContractSpec) -> Position:
    return replace(position(quantity), contract=contract, market_value=None)


def trade(side: Side, quantity: str, contract: ContractSpec) -> Order:
    return make_order(side=side, quantity=quantity, limit_price="5").with_changes(contract=contract)


def count(positions: Sequence[Position], orders: Sequence[Order] = ()) -> Decimal:
    return naked_short_options(positions, pending(orders))


def test_a_long_option_covers_a_short_one_that_expires_no_later() -> None:
    # A long June call covers a short March call (a calendar bought the right way round)...
    assert count([held("-1", MARCH_190), held("1", JUNE_200)]) == 0
    # ...but a long March call does not cover a short June call: it expires first.
    assert count([held("1", MARCH_190), held("-1", JUNE_200)]) == 1
    # Each long covers one short, and a later short takes a long that can cover it.
    assert count([held("-1", MARCH_190), held("-1", JUNE_200), held("1", JUNE_210)]) == 1
    march_and_june = [held("-1", MARCH_190), held("1", MARCH_200), held("-1", JUNE_200)]
    assert count([*march_and_june, held("1", JUNE_210)]) == 0


def test_cover_is_per_underlying_type_and_right() -> None:
    put = option(1003, OptionRight.PUT, "180")
    future_call = option(1005, security_type=SecurityType.FUTURE_OPTION)
    assert count([held("-1", put), held("1", MARCH_200)]) == 1
    assert count([held("-1", future_call), held("1", MARCH_200)]) == 1
    # Stock covers a stock option's calls only, 100 shares a contract.
    assert count([held("-2", MARCH_190), held("-1", put), held("250", STOCK)]) == 1


def test_working_sells_count_filled_and_working_buys_not() -> None:
    assert count([held("1", MARCH_200)], [trade(Side.SELL, "1", MARCH_200)]) == 0
    assert (
        count([held("-1", MARCH_190), held("1", MARCH_200)], [trade(Side.SELL, "1", MARCH_200)])
        == 1
    )
    assert count([held("-1", MARCH_190)], [trade(Side.BUY, "1", MARCH_190)]) == 1
    # A working sale of the stock takes its cover away.
    assert count([held("-1", MARCH_190), held("100", STOCK)], [trade(Side.SELL, "1", STOCK)]) == 1


async def check(
    orders: list[Order],
    *,
    positions: Sequence[Position],
    working: Sequence[Order] = (),
    limit: int = 0,
) -> None:
    repository = FakeRiskRepository()
    repository.limits = RiskLimits(max_naked_short_options=limit)
    engine = RiskEngine(
        repository, FakeWorkingOrders(working), FakeExposure(positions), clock=lambda: EPOCH
    )
    await engine.load(None)
    await engine.check(orders, reference_price=Decimal(5))


async def test_selling_the_stock_under_a_covered_call_is_refused() -> None:
    await check(
        [trade(Side.SELL, "1", STOCK)], positions=[held("-1", MARCH_190), held("101", STOCK)]
    )
    with pytest.raises(RiskRejectedError) as raised:
        await check(
            [trade(Side.SELL, "1", STOCK)], positions=[held("-1", MARCH_190), held("100", STOCK)]
        )
    assert raised.value.precondition_violations[0].subject == "max_naked_short_options"
    assert (raised.value.metadata["limit"], raised.value.metadata["requested"]) == ("0", "1")


async def test_orders_that_do_not_add_naked_shorts_pass_an_account_past_the_limit() -> None:
    """Five calls short with a limit of 2: buying one back, buying stock or selling a put that
    a held put covers does not make the account worse, so none is blocked; one more naked call
    is."""
    put = option(1003, OptionRight.PUT, "180")
    naked_five = [
        held("-5", MARCH_190),
        held("1", option(1007, OptionRight.PUT, "170", "20260619")),
    ]
    for order in (
        trade(Side.BUY, "1", MARCH_190),
        trade(Side.BUY, "100", STOCK),
        trade(Side.SELL, "1", put),
    ):
        await check([order], positions=naked_five, limit=2)
    with pytest.raises(RiskRejectedError) as raised:
        await check([trade(Side.SELL, "1", MARCH_200)], positions=naked_five, limit=2)
    assert raised.value.metadata["requested"] == "6"


def combination(*legs: ComboLeg, quantity: str = "1") -> Order:
    built = make_order(quantity=quantity, limit_price="1")
    return built.with_changes(
        combo_legs=legs, terms=replace(built.terms, order_type=OrderType.LIMIT)
    )


async def test_a_combination_that_sells_the_cover_of_a_short_counts_toward_the_limit() -> None:
    """The combination's short call closes a held long call, so the combination rule passes
    it; but that long call covered a held short March call, which becomes naked."""
    put = option(1003, OptionRight.PUT, "180", expiry="20260619")
    sells_the_cover = combination(ComboLeg(JUNE_200, Side.SELL), ComboLeg(put, Side.BUY))
    positions = [held("-1", MARCH_190), held("1", JUNE_200)]
    await check([sells_the_cover], positions=positions, limit=1)
    with pytest.raises(RiskRejectedError) as raised:
        await check([sells_the_cover], positions=positions, limit=0)
    assert raised.value.precondition_violations[0].subject == "max_naked_short_options"
    # A vertical whose long leg covers its short leg adds nothing.
    vertical = combination(ComboLeg(MARCH_190, Side.BUY), ComboLeg(MARCH_200, Side.SELL))
    await check([vertical], positions=[], limit=0)
