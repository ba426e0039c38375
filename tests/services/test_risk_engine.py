"""The risk engine on its own: every rule at its limit and just past it, for a new order, a
bracket (its legs included) and a modification; working orders count on both sides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import (
    BracketRole,
    OptionRight,
    OrderStatus,
    OrderType,
    SecurityType,
    Side,
)
from ibkr_grpc.domain.errors import RateLimitExceededError, RiskRejectedError
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.domain.portfolio import Position
from ibkr_grpc.domain.risk import RiskLimits
from ibkr_grpc.services.risk_engine import RiskEngine
from tests.services.risk_fakes import FakeExposure, FakeRiskRepository, FakeWorkingOrders, position
from tests.support.builders import EPOCH, make_order

ACCOUNT = "DU1234567"
REFERENCE = Decimal(100)


def order(
    quantity: str,
    price: str | None = "100",
    *,
    side: Side = Side.BUY,
    symbol: str = "AAPL",
    order_type: OrderType = OrderType.LIMIT,
    outside_regular_hours: bool = False,
) -> Order:
    built = make_order(
        symbol=symbol,
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=price,
        status=OrderStatus.SUBMITTED,
    )
    return built.with_changes(
        terms=replace(built.terms, outside_regular_hours=outside_regular_hours)
    )


def sell(quantity: str, price: str | None = "100") -> Order:
    return order(quantity, price, side=Side.SELL)


def bracket(
    quantity: str,
    entry: str | None = "100",
    *,
    take_profit: str = "110",
    stop_loss: str = "95",
    symbol: str = "AAPL",
    order_type: OrderType = OrderType.LIMIT,
) -> list[Order]:
    """A buy bracket as the order manager builds it: parent, take-profit, stop-loss."""
    parent = order(quantity, entry, symbol=symbol, order_type=order_type)
    exit_terms = replace(parent.terms, side=Side.SELL, order_type=OrderType.LIMIT)
    legs = [
        parent.with_changes(
            order_id=f"{parent.order_id}-take-profit",
            terms=replace(exit_terms, limit_price=Decimal(take_profit)),
            bracket_role=BracketRole.TAKE_PROFIT,
            parent_order_id=parent.order_id,
        ),
        parent.with_changes(
            order_id=f"{parent.order_id}-stop-loss",
            terms=replace(
                exit_terms,
                order_type=OrderType.STOP,
                limit_price=None,
                stop_price=Decimal(stop_loss),
            ),
            bracket_role=BracketRole.STOP_LOSS,
            parent_order_id=parent.order_id,
        ),
    ]
    parent = parent.with_changes(
        bracket_role=BracketRole.PARENT, child_order_ids=tuple(leg.order_id for leg in legs)
    )
    return [parent, *legs]


def changed(
    stored: Order, *, quantity: str | None = None, price: str | None = None, **terms: Any
) -> Order:
    """The order as a modification would leave it."""
    new_terms = stored.terms
    if quantity is not None:
        new_terms = replace(new_terms, quantity=Decimal(quantity))
    if price is not None:
        new_terms = replace(new_terms, limit_price=Decimal(price))
    return stored.with_changes(terms=replace(new_terms, **terms))


def with_leg(orders: list[Order], role: BracketRole, **terms: Any) -> list[Order]:
    return [
        o.with_changes(terms=replace(o.terms, **terms)) if o.bracket_role is role else o
        for o in orders
    ]


def filled_entry_legs(quantity: str = "10") -> list[Order]:
    """The exit legs still working after their bracket's entry filled."""
    return bracket(quantity)[1:]


@dataclass
class Case:
    """One command against one account's state."""

    orders: list[Order]
    replacing: Order | None = None
    working: Sequence[Order] = ()
    positions: Sequence[Position] = ()
    daily_pnl: Decimal | None = None
    accepted_before: int = 0
    reference_price: Decimal | None = REFERENCE
    # Option deltas by con_id, as the gateway's held quotes give them.
    deltas: Mapping[int, Decimal] = field(default_factory=dict)


def modify(
    stored: Order,
    after: Order,
    *,
    working: Sequence[Order] = (),
    positions: Sequence[Position] = (),
    daily_pnl: Decimal | None = None,
    accepted_before: int = 0,
) -> Case:
    """A modification of `stored` (working, with `working`) into `after`."""
    return Case(
        [after],
        replacing=stored,
        working=[stored, *working],
        positions=positions,
        daily_pnl=daily_pnl,
        accepted_before=accepted_before,
    )


async def run(case: Case, limits: RiskLimits) -> RiskEngine:
    repository = FakeRiskRepository()
    repository.limits = limits
    engine = RiskEngine(
        repository,
        FakeWorkingOrders(case.working),
        FakeExposure(case.positions, case.daily_pnl),
        clock=lambda: EPOCH,
        deltas=lambda contract: case.deltas.get(contract.con_id),
    )
    await engine.load(None)
    for _ in range(case.accepted_before):
        engine.accepted(ACCOUNT)
    await engine.check(case.orders, reference_price=case.reference_price, replacing=case.replacing)
    return engine


def option_contract(
    con_id: int, right: OptionRight = OptionRight.CALL, strike: str = "190"
) -> ContractSpec:
    """An AAPL option of the 20 March 2026 expiry, 100 shares a contract."""
    return ContractSpec(
        symbol="AAPL",
        security_type=SecurityType.OPTION,
        con_id=con_id,
        last_trade_date_or_contract_month="20260320",
        strike=Decimal(strike),
        right=right,
        multiplier="100",
    )


CALL_190 = option_contract(1001)
CALL_200 = option_contract(1002, strike="200")
PUT_180 = option_contract(1003, OptionRight.PUT, "180")


def sell_option(quantity: str, contract: ContractSpec = CALL_190) -> Order:
    return sell(quantity, "5").with_changes(contract=contract)


def held(quantity: str, contract: ContractSpec) -> Position:
    return replace(position(quantity), contract=contract, market_value=None)


STOCK_100 = [held("100", ContractSpec(symbol="AAPL", con_id=265598))]
STOCK_99 = [held("99", ContractSpec(symbol="AAPL", con_id=265598))]
NAKED_TWO = RiskLimits(max_naked_short_options=2)
NAKED_NONE = RiskLimits(max_naked_short_options=0)
STORED_SHORT = sell_option("1")
# Underlying delta (limit 100 units of AAPL, or of the S&P 500 for ES).
DELTA_100 = RiskLimits(max_underlying_delta=Decimal(100))
AAPL_STOCK = ContractSpec(symbol="AAPL", con_id=265598)
ES_FUTURE = ContractSpec(
    symbol="ES",
    security_type=SecurityType.FUTURE,
    con_id=2001,
    last_trade_date_or_contract_month="20260320",
    multiplier="50",
)
ES_CALL = replace(
    ES_FUTURE,
    security_type=SecurityType.FUTURE_OPTION,
    con_id=2002,
    strike=Decimal(6000),
    right=OptionRight.CALL,
)


def trade(quantity: str, contract: ContractSpec, side: Side = Side.BUY) -> Order:
    return order(quantity, "5", side=side, symbol=contract.symbol).with_changes(contract=contract)


def deltas(**by_contract: str) -> dict[int, Decimal]:
    contracts = {"call_190": CALL_190, "put_180": PUT_180, "es_call": ES_CALL}
    return {contracts[name].con_id: Decimal(delta) for name, delta in by_contract.items()}


STOCK_50 = [held("50", AAPL_STOCK)]
STOCK_150 = [held("150", AAPL_STOCK)]
COVERED = [held("100", AAPL_STOCK), held("-1", CALL_190)]
STORED_SHARES = order("5")
STORED = order("5")
HELD_TEN = [position("10")]
LEGS = filled_entry_legs()
TAKE_PROFIT = LEGS[0]
LOSS = Decimal(-500)
PAST_LOSS = Decimal("-500.01")

# (rule, limits, the command at the limit, the command just past it, reason)
RULES = [
    # Instrument rules: every order of the command, the legs included.
    ("denied_symbols", RiskLimits(denied_symbols=frozenset({"MSFT"})), Case([order("1")]), Case([order("1", symbol="MSFT")]), "SYMBOL_NOT_ALLOWED"),
    ("denied_symbols", RiskLimits(denied_symbols=frozenset({"MSFT"})), Case(bracket("1")), Case(bracket("1", symbol="MSFT")), "SYMBOL_NOT_ALLOWED"),
    ("denied_symbols", RiskLimits(denied_symbols=frozenset({"MSFT"})), modify(STORED, changed(STORED, quantity="6")), modify(order("5", symbol="MSFT"), changed(order("5", symbol="MSFT"), quantity="6")), "SYMBOL_NOT_ALLOWED"),
    ("allowed_symbols", RiskLimits(allowed_symbols=frozenset({"AAPL"})), Case([order("1")]), Case([order("1", symbol="MSFT")]), "SYMBOL_NOT_ALLOWED"),
    ("allowed_symbols", RiskLimits(allowed_symbols=frozenset({"AAPL"})), Case(bracket("1")), Case(bracket("1", symbol="MSFT")), "SYMBOL_NOT_ALLOWED"),
    ("market_orders_allowed", RiskLimits(market_orders_allowed=False), Case([order("1")]), Case([order("1", None, order_type=OrderType.MARKET)]), "ORDER_TYPE_NOT_ALLOWED"),
    ("market_orders_allowed", RiskLimits(market_orders_allowed=False), Case(bracket("1")), Case(bracket("1", None, order_type=OrderType.MARKET)), "ORDER_TYPE_NOT_ALLOWED"),
    ("market_orders_allowed", RiskLimits(market_orders_allowed=False), modify(STORED, changed(STORED, quantity="6")), modify(STORED, changed(STORED, order_type=OrderType.MARKET, limit_price=None)), "ORDER_TYPE_NOT_ALLOWED"),
    ("outside_regular_hours_allowed", RiskLimits(outside_regular_hours_allowed=False), Case([order("1")]), Case([order("1", outside_regular_hours=True)]), "ORDER_TYPE_NOT_ALLOWED"),
    ("outside_regular_hours_allowed", RiskLimits(outside_regular_hours_allowed=False), Case(bracket("1")), Case(with_leg(bracket("1"), BracketRole.STOP_LOSS, outside_regular_hours=True)), "ORDER_TYPE_NOT_ALLOWED"),
    ("outside_regular_hours_allowed", RiskLimits(outside_regular_hours_allowed=False), modify(STORED, changed(STORED, quantity="6")), modify(STORED, changed(STORED, outside_regular_hours=True)), "ORDER_TYPE_NOT_ALLOWED"),
    # Size and price: each order at its own price, the legs included.
    ("max_order_quantity", RiskLimits(max_order_quantity=Decimal(10)), Case([order("10")]), Case([order("11")]), "ORDER_SIZE_LIMIT_EXCEEDED"),
    ("max_order_quantity", RiskLimits(max_order_quantity=Decimal(10)), Case(bracket("10")), Case(with_leg(bracket("10"), BracketRole.TAKE_PROFIT, quantity=Decimal(11))), "ORDER_SIZE_LIMIT_EXCEEDED"),
    ("max_order_quantity", RiskLimits(max_order_quantity=Decimal(10)), modify(STORED, changed(STORED, quantity="10")), modify(STORED, changed(STORED, quantity="11")), "ORDER_SIZE_LIMIT_EXCEEDED"),
    ("max_order_notional", RiskLimits(max_order_notional=Decimal(2000)), Case([order("20")]), Case([order("20", "100.01")]), "ORDER_SIZE_LIMIT_EXCEEDED"),
    ("max_order_notional", RiskLimits(max_order_notional=Decimal(2000)), Case(bracket("10", take_profit="200")), Case(bracket("10", take_profit="200.01")), "ORDER_SIZE_LIMIT_EXCEEDED"),
    ("max_order_notional", RiskLimits(max_order_notional=Decimal(2000)), modify(STORED, changed(STORED, quantity="20")), modify(STORED, changed(STORED, quantity="20", price="100.01")), "ORDER_SIZE_LIMIT_EXCEEDED"),
    ("price_collar_percent", RiskLimits(price_collar_percent=Decimal(5)), Case([order("1", "105")]), Case([order("1", "105.01")]), "PRICE_OUTSIDE_COLLAR"),
    ("price_collar_percent", RiskLimits(price_collar_percent=Decimal(5)), Case(bracket("1", take_profit="105")), Case(bracket("1", take_profit="105.01")), "PRICE_OUTSIDE_COLLAR"),
    ("price_collar_percent", RiskLimits(price_collar_percent=Decimal(5)), modify(STORED, changed(STORED, price="95")), modify(STORED, changed(STORED, price="94.99")), "PRICE_OUTSIDE_COLLAR"),
    # Position: held 10 and a working buy of 5 leave room for 5 more.
    ("max_position_quantity", RiskLimits(max_position_quantity=Decimal(20)), Case([order("5")], working=[STORED], positions=HELD_TEN), Case([order("6")], working=[STORED], positions=HELD_TEN), "POSITION_LIMIT_EXCEEDED"),
    ("max_position_quantity", RiskLimits(max_position_quantity=Decimal(20)), Case(bracket("5"), working=[STORED], positions=HELD_TEN), Case(bracket("6"), working=[STORED], positions=HELD_TEN), "POSITION_LIMIT_EXCEEDED"),
    ("max_position_quantity", RiskLimits(max_position_quantity=Decimal(20)), modify(TAKE_PROFIT, changed(TAKE_PROFIT, quantity="30"), working=LEGS[1:], positions=HELD_TEN), modify(TAKE_PROFIT, changed(TAKE_PROFIT, quantity="31"), working=LEGS[1:], positions=HELD_TEN), "POSITION_LIMIT_EXCEEDED"),
    ("max_position_quantity", RiskLimits(max_position_quantity=Decimal(20)), modify(STORED, changed(STORED, quantity="10"), positions=HELD_TEN), modify(STORED, changed(STORED, quantity="11"), positions=HELD_TEN), "POSITION_LIMIT_EXCEEDED"),
    # Gross exposure: held 1,000 and a working buy of 500 leave room for 1,500.
    ("max_gross_exposure", RiskLimits(max_gross_exposure=Decimal(3000)), Case([order("15")], working=[STORED], positions=HELD_TEN), Case([order("15", "100.01")], working=[STORED], positions=HELD_TEN), "POSITION_LIMIT_EXCEEDED"),
    ("max_gross_exposure", RiskLimits(max_gross_exposure=Decimal(3000)), Case(bracket("30")), Case(bracket("30", "100.01")), "POSITION_LIMIT_EXCEEDED"),
    ("max_gross_exposure", RiskLimits(max_gross_exposure=Decimal(3000)), modify(TAKE_PROFIT, changed(TAKE_PROFIT, quantity="40", price="100"), working=LEGS[1:], positions=HELD_TEN), modify(TAKE_PROFIT, changed(TAKE_PROFIT, quantity="40", price="100.01"), working=LEGS[1:], positions=HELD_TEN), "POSITION_LIMIT_EXCEEDED"),
    ("max_gross_exposure", RiskLimits(max_gross_exposure=Decimal(3000)), modify(STORED, changed(STORED, quantity="30")), modify(STORED, changed(STORED, quantity="30", price="100.01")), "POSITION_LIMIT_EXCEEDED"),
    # Naked short options (limit 2): held and working sells at their worst, less cover by a
    # long option of the same right expiring no earlier, or a call's by 100 shares of stock.
    ("max_naked_short_options", NAKED_TWO, Case([sell_option("2")]), Case([sell_option("3")]), "POSITION_LIMIT_EXCEEDED"),
    ("max_naked_short_options", NAKED_TWO, Case([sell_option("1")], working=[STORED_SHORT]), Case([sell_option("1", PUT_180)], working=[STORED_SHORT], positions=[held("-1", CALL_200)]), "POSITION_LIMIT_EXCEEDED"),
    ("max_naked_short_options", NAKED_TWO, Case([sell_option("3")], positions=[held("1", CALL_190)]), Case([sell_option("4")], positions=[held("1", CALL_190)]), "POSITION_LIMIT_EXCEEDED"),
    ("max_naked_short_options", NAKED_TWO, Case([sell_option("3")], positions=[held("1", CALL_200)]), Case([sell_option("3")], positions=[held("1", PUT_180)]), "POSITION_LIMIT_EXCEEDED"),
    ("max_naked_short_options", NAKED_TWO, Case([sell_option("3")], positions=STOCK_100), Case([sell_option("3")], positions=STOCK_99), "POSITION_LIMIT_EXCEEDED"),
    ("max_naked_short_options", NAKED_NONE, Case([sell_option("1")], positions=STOCK_100), Case([sell_option("1", PUT_180)], positions=STOCK_100), "POSITION_LIMIT_EXCEEDED"),
    ("max_naked_short_options", NAKED_TWO, modify(STORED_SHORT, changed(STORED_SHORT, quantity="2")), modify(STORED_SHORT, changed(STORED_SHORT, quantity="3")), "POSITION_LIMIT_EXCEEDED"),
    # Underlying delta (limit 100): shares 1 each, options multiplier x delta (1 a call, -1 a
    # put while no quote is held), futures their multiplier; held positions offset each other.
    ("max_underlying_delta", DELTA_100, Case([order("50")], positions=STOCK_50), Case([order("51")], positions=STOCK_50), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([order("50")], working=[order("40")], positions=[held("10", AAPL_STOCK)]), Case([order("50")], working=[order("40")], positions=[held("11", AAPL_STOCK)]), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([order("50")], positions=COVERED, deltas=deltas(call_190="0.5")), Case([order("51")], positions=COVERED, deltas=deltas(call_190="0.5")), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([trade("2", CALL_190)], deltas=deltas(call_190="0.5")), Case([trade("2", CALL_190)], deltas=deltas(call_190="0.5001")), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([trade("1", PUT_180)]), Case([trade("1", PUT_180)], positions=[held("-1", AAPL_STOCK)]), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([sell_option("2")], deltas=deltas(call_190="0.5")), Case([sell_option("2")]), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([trade("2", ES_FUTURE)]), Case([trade("2", ES_FUTURE)], positions=[held("1", ES_CALL)], deltas=deltas(es_call="0.02")), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, Case([sell("50")], positions=STOCK_150), Case([order("1")], positions=STOCK_50, working=[order("50")]), "POSITION_LIMIT_EXCEEDED"),
    ("max_underlying_delta", DELTA_100, modify(STORED_SHARES, changed(STORED_SHARES, quantity="50"), positions=STOCK_50), modify(STORED_SHARES, changed(STORED_SHARES, quantity="51"), positions=STOCK_50), "POSITION_LIMIT_EXCEEDED"),
    # Open orders: a bracket adds all its orders (a modification adds none: tested below).
    ("max_open_orders", RiskLimits(max_open_orders=3), Case([order("1")], working=[order("1"), order("1")]), Case([order("1")], working=[order("1"), order("1"), order("1")]), "OPEN_ORDER_LIMIT_EXCEEDED"),
    ("max_open_orders", RiskLimits(max_open_orders=3), Case(bracket("1")), Case(bracket("1"), working=[order("1")]), "OPEN_ORDER_LIMIT_EXCEEDED"),
    # Every command: the daily loss and the order rate.
    ("daily_loss_limit", RiskLimits(daily_loss_limit=Decimal(500)), Case([order("1")], daily_pnl=LOSS), Case([order("1")], daily_pnl=PAST_LOSS), "DAILY_LOSS_LIMIT_EXCEEDED"),
    ("daily_loss_limit", RiskLimits(daily_loss_limit=Decimal(500)), Case(bracket("1"), daily_pnl=LOSS), Case(bracket("1"), daily_pnl=PAST_LOSS), "DAILY_LOSS_LIMIT_EXCEEDED"),
    ("daily_loss_limit", RiskLimits(daily_loss_limit=Decimal(500)), modify(STORED, changed(STORED, quantity="4"), daily_pnl=LOSS), modify(STORED, changed(STORED, quantity="4"), daily_pnl=PAST_LOSS), "DAILY_LOSS_LIMIT_EXCEEDED"),
    ("max_orders_per_minute", RiskLimits(max_orders_per_minute=2), Case([order("1")], accepted_before=1), Case([order("1")], accepted_before=2), "RATE_LIMIT_EXCEEDED"),
    ("max_orders_per_minute", RiskLimits(max_orders_per_minute=2), Case(bracket("1"), accepted_before=1), Case(bracket("1"), accepted_before=2), "RATE_LIMIT_EXCEEDED"),
    ("max_orders_per_minute", RiskLimits(max_orders_per_minute=2), modify(STORED, changed(STORED, quantity="4"), accepted_before=1), modify(STORED, changed(STORED, quantity="4"), accepted_before=2), "RATE_LIMIT_EXCEEDED"),
]  # fmt: skip


def _case_id(row: tuple[str, RiskLimits, Case, Case, str]) -> str:
    rule, _, at_limit, _, _ = row
    if at_limit.replacing is None:
        kind = "bracket" if len(at_limit.orders) > 1 else "new order"
    elif at_limit.replacing.bracket_role is BracketRole.NONE:
        kind = "modification"
    else:
        kind = "bracket leg modified"
    return f"{rule}: {kind}"


@pytest.mark.parametrize(
    ("rule", "limits", "at_limit", "past_limit", "reason"), RULES, ids=[_case_id(r) for r in RULES]
)
async def test_each_rule_accepts_at_its_limit_and_refuses_just_past_it(
    rule: str, limits: RiskLimits, at_limit: Case, past_limit: Case, reason: str
) -> None:
    await run(at_limit, limits)
    with pytest.raises((RiskRejectedError, RateLimitExceededError)) as raised:
        await run(past_limit, limits)
    error = raised.value
    assert error.reason == reason
    if isinstance(error, RiskRejectedError):
        assert error.precondition_violations[0].subject == rule
        assert error.metadata["requested"]


async def test_a_take_profit_leg_past_the_notional_and_the_collar_is_refused() -> None:
    """The leg of issue #12: notional 61,970 against a 2,000 limit, 5 % collar."""
    orders = bracket("10", "1000", take_profit="6197")
    for limits, rule in (
        (RiskLimits(max_order_notional=Decimal(20_000)), "max_order_notional"),
        (RiskLimits(price_collar_percent=Decimal(5)), "price_collar_percent"),
    ):
        with pytest.raises(RiskRejectedError) as raised:
            await run(Case(orders, reference_price=Decimal(1000)), limits)
        assert raised.value.precondition_violations[0].subject == rule


def option_order(quantity: str, price: str) -> Order:
    """A stock option: its price is per share, 100 shares a contract."""
    built = order(quantity, price)
    contract = replace(
        built.contract,
        security_type=SecurityType.OPTION,
        last_trade_date_or_contract_month="20260320",
        strike=Decimal(190),
        right=OptionRight.CALL,
        multiplier="100",
    )
    return built.with_changes(contract=contract)


@pytest.mark.parametrize(
    ("limits", "rule"),
    [
        (RiskLimits(max_order_notional=Decimal(2000)), "max_order_notional"),
        (RiskLimits(max_gross_exposure=Decimal(2000)), "max_gross_exposure"),
    ],
)
async def test_an_option_order_is_worth_its_price_times_the_multiplier(
    limits: RiskLimits, rule: str
) -> None:
    """4 calls at 5.00 are worth 4 x 5.00 x 100 = 2,000, not 20: an option's price is per unit
    of the underlying and the contract's multiplier (IB's ContractDetails multiplier, "100" for
    a US equity option) says how many units one contract is. At the limit, and past it."""
    await run(Case([option_order("4", "5.00")]), limits)
    with pytest.raises(RiskRejectedError) as raised:
        await run(Case([option_order("4", "5.01")]), limits)
    assert raised.value.precondition_violations[0].subject == rule


async def test_concurrent_buys_count_each_other_once_accepted() -> None:
    """Six BUY 10 against a position limit of 20: the third and later are refused."""
    limits = RiskLimits(max_position_quantity=Decimal(20))
    working: list[Order] = []
    outcomes: list[bool] = []
    for _ in range(6):
        candidate = order("10")
        try:
            await run(Case([candidate], working=working), limits)
        except RiskRejectedError:
            outcomes.append(False)
        else:
            working.append(candidate)
            outcomes.append(True)
    assert outcomes == [True, True, False, False, False, False]


@pytest.mark.parametrize(
    ("held", "working", "command", "accepted"),
    [
        # Working sells count on the short side, working buys on the long side.
        ("0", [sell("15")], [sell("5")], True),
        ("0", [sell("15")], [sell("6")], False),
        ("-10", [order("10")], [sell("10")], True),
        ("-10", [order("10")], [sell("11")], False),
        # A sell that only closes part of a long is never refused for the long side.
        ("30", [], [sell("5")], True),
        # The buys of the other side do not offset the worst case of this one.
        ("0", [order("20")], [sell("21")], False),
    ],
)
async def test_working_orders_count_on_their_own_side(
    held: str, working: list[Order], command: list[Order], *, accepted: bool
) -> None:
    case = Case(command, working=working, positions=[position(held)])
    limits = RiskLimits(max_position_quantity=Decimal(20))
    if accepted:
        await run(case, limits)
    else:
        with pytest.raises(RiskRejectedError):
            await run(case, limits)


async def test_a_bracket_counts_its_entry_once_and_its_legs_once_the_entry_filled() -> None:
    both = RiskLimits(max_position_quantity=Decimal(20), max_gross_exposure=Decimal(2000))
    # A lone bracket of 20 is a position of 20, not 20 long plus 20 (or 40) short.
    await run(Case(bracket("20")), both)
    with pytest.raises(RiskRejectedError):
        await run(Case(bracket("21")), both)
    # The entry filled: 20 held, the legs can take it back to 0 but no further.
    limits = RiskLimits(max_position_quantity=Decimal(20))
    legs, held = filled_entry_legs("20"), [position("20")]
    await run(Case([sell("20")], working=legs, positions=held), limits)
    with pytest.raises(RiskRejectedError):
        await run(Case([sell("21")], working=legs, positions=held), limits)


async def test_a_leg_larger_than_its_entry_counts_the_excess() -> None:
    limits = RiskLimits(max_position_quantity=Decimal(20))
    working = with_leg(bracket("10"), BracketRole.TAKE_PROFIT, quantity=Decimal(25))
    await run(Case([sell("5")], working=working), limits)
    with pytest.raises(RiskRejectedError):
        await run(Case([sell("6")], working=working), limits)


async def test_a_modification_does_not_count_the_order_it_replaces() -> None:
    limits = RiskLimits(max_position_quantity=Decimal(10), max_gross_exposure=Decimal(1000))
    stored = order("10")
    # Counted twice, the order would reach 20 and be refused.
    await run(modify(stored, changed(stored, price="99")), limits)
    partly_filled = stored.with_changes(filled_quantity=Decimal(4))
    await run(modify(partly_filled, changed(partly_filled, quantity="10")), limits)


async def test_a_modification_adds_no_open_order() -> None:
    limits = RiskLimits(max_open_orders=2)
    await run(modify(STORED, changed(STORED, quantity="6"), working=[order("1")]), limits)
    # A limit lowered below what is working still lets the working orders be changed.
    await run(
        modify(STORED, changed(STORED, quantity="6"), working=[order("1"), order("1")]), limits
    )


async def test_an_unpriced_order_is_refused_when_exposure_is_limited() -> None:
    market = order("1", None, order_type=OrderType.MARKET)
    with pytest.raises(RiskRejectedError) as raised:
        await run(Case([market], reference_price=None), RiskLimits(max_gross_exposure=Decimal(1)))
    assert raised.value.metadata["requested"] == "unknown"


async def test_the_order_rate_forgets_commands_older_than_a_minute() -> None:
    now = [EPOCH]
    repository = FakeRiskRepository()
    repository.limits = RiskLimits(max_orders_per_minute=1)
    engine = RiskEngine(repository, FakeWorkingOrders(), FakeExposure(), clock=lambda: now[0])
    await engine.load(None)
    engine.accepted(ACCOUNT)
    with pytest.raises(RateLimitExceededError):
        await engine.check([order("1")], reference_price=REFERENCE)
    now[0] += timedelta(minutes=1)
    await engine.check([order("1")], reference_price=REFERENCE)


async def test_the_working_orders_are_read_once_per_command() -> None:
    repository = FakeRiskRepository()
    repository.limits = RiskLimits(
        max_open_orders=10, max_position_quantity=Decimal(100), max_gross_exposure=Decimal(10**6)
    )
    working = FakeWorkingOrders([order("1")])
    engine = RiskEngine(repository, working, FakeExposure(), clock=lambda: EPOCH)
    await engine.load(None)
    await engine.check(bracket("1"), reference_price=REFERENCE)
    assert working.reads == 1


async def test_underlying_delta_refusal_names_the_limit_and_the_reach() -> None:
    """51 shares past 50 held reach 101 long against 100; unset, nothing is refused."""
    past = Case([order("51")], positions=STOCK_50)
    with pytest.raises(RiskRejectedError) as raised:
        await run(past, DELTA_100)
    assert raised.value.reason == "POSITION_LIMIT_EXCEEDED"
    assert raised.value.metadata["limit"] == "100"
    assert raised.value.metadata["requested"] == "101"
    await run(past, RiskLimits())


@pytest.mark.parametrize(
    "command",
    [
        # Held 150 shares, past a limit of 100: selling shares or calls only reduces it.
        [sell("150")],
        [sell_option("1")],
        [trade("1", PUT_180)],
    ],
)
async def test_commands_that_reduce_underlying_delta_pass_past_the_limit(
    command: list[Order],
) -> None:
    await run(Case(command, positions=STOCK_150, deltas=deltas(put_180="-0.4")), DELTA_100)


async def test_other_underlyings_do_not_count() -> None:
    """200 MSFT shares and an ES future leave all 100 units of AAPL free."""
    positions = [
        replace(held("200", AAPL_STOCK), contract=ContractSpec(symbol="MSFT")),
        held("1", ES_FUTURE),
    ]
    await run(Case([order("100")], positions=positions), DELTA_100)
