"""Displayed liquidity: orders take the sizes the book shows, in one execution per price level.

IB reports every execution of an order on its own: "When an order is filled either fully or
partially, the IBApi.EWrapper.execDetails and IBApi.EWrapper.commissionReport events will
deliver IBApi.Execution and IBApi.CommissionReport objects"
(https://interactivebrokers.github.io/tws-api/executions_commissions.html), each execution
with its own execId, cumQty and avgPrice (ib_async's Execution), and an orderStatus with the
order's filled, remaining and avgFillPrice so far. IB's commission minimum is per order: "They
do not charge the order fees for multiple fills at multiple prices (for example on a market
order that executes at various levels)" (IBj, Interactive Brokers, on
https://www.elitetrader.com/et/threads/ib-commissions-changes.125744/page-4).
"""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Stock, Trade

from ibkr_simulator import FillPolicy, Simulator, SimulatorConfig
from ibkr_simulator.command_line import build_parser, config_from_arguments
from ibkr_simulator.control import execute
from ibkr_simulator.order_rules import commission_for
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING

TICK = 0.01


async def _aapl(ib: IB) -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    assert isinstance(contract, Contract)
    return contract


def _executions(trade: Trade) -> list[tuple[float, float]]:
    return [(fill.execution.shares, fill.execution.price) for fill in trade.fills]


async def _commissions_arrived(trade: Trade) -> None:
    await eventually(lambda: all(fill.commissionReport.execId for fill in trade.fills))


async def test_the_touch_is_the_size_the_market_data_shows(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        ticker = ib.reqMktData(contract)
        quote = simulator.quote("AAPL")
        await eventually(lambda: ticker.askSize == quote.ask_size)
        trade = ib.placeOrder(contract, MarketOrder("BUY", quote.ask_size))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        # Exactly what the ask showed: one execution at the ask.
        assert _executions(trade) == [(quote.ask_size, quote.ask)]


async def test_a_market_order_walks_the_book_in_several_executions(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        quote = simulator.quote("AAPL")
        touch = quote.ask_size
        quantity = touch * 2 + touch / 2
        statuses: list[tuple[float, float, float]] = []
        trade = ib.placeOrder(contract, MarketOrder("BUY", quantity))
        trade.filledEvent += lambda _: None
        ib.orderStatusEvent += lambda changed: statuses.append(
            (
                changed.orderStatus.filled,
                changed.orderStatus.remaining,
                changed.orderStatus.avgFillPrice,
            )
        )
        await eventually(lambda: trade.orderStatus.status == "Filled")
        await _commissions_arrived(trade)

        # Deeper levels at worse prices, one tick apart, each execution on its own.
        ask = quote.ask
        expected = [
            (touch, ask),
            (touch, round(ask + TICK, 2)),
            (touch / 2, round(ask + 2 * TICK, 2)),
        ]
        assert _executions(trade) == expected
        assert len({fill.execution.execId for fill in trade.fills}) == 3
        assert [fill.execution.cumQty for fill in trade.fills] == [touch, 2 * touch, quantity]
        value = 0.0
        for fill in trade.fills:
            value += fill.execution.shares * fill.execution.price
            assert fill.execution.avgPrice == pytest.approx(value / fill.execution.cumQty)
        assert trade.orderStatus.avgFillPrice == pytest.approx(value / quantity)
        assert trade.orderStatus.avgFillPrice > ask  # slippage
        # An orderStatus after each execution with the order's running totals.
        partial = [status for status in statuses if 0 < status[0] < quantity]
        assert [status[:2] for status in partial][:2] == [
            (touch, quantity - touch),
            (2 * touch, quantity - 2 * touch),
        ]
        # One commission report per execution; together they are one order's commission.
        commissions = [fill.commissionReport.commission for fill in trade.fills]
        assert len(commissions) == 3
        policy = FillPolicy()
        spec = simulator.contract("AAPL")
        assert sum(commissions) == pytest.approx(
            commission_for(policy, spec, quantity, value / quantity), abs=1e-3
        )


async def test_an_order_larger_than_the_book_keeps_working_into_later_steps(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        quote = simulator.quote("AAPL")
        depth = quote.ask_size * 5  # five levels, each as deep as the touch
        trade = ib.placeOrder(contract, MarketOrder("BUY", depth + 100))
        await eventually(lambda: trade.orderStatus.filled == depth)
        assert trade.orderStatus.status == "Submitted"
        assert trade.orderStatus.remaining == 100
        assert len(trade.fills) == 5
        await simulator.step()
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert trade.fills[-1].execution.cumQty == depth + 100


async def test_a_limit_order_fills_only_what_rests_at_its_price(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        simulator.set_price("AAPL", 190.0)
        quote = simulator.quote("AAPL")
        quantity = quote.ask_size + 100
        trade = ib.placeOrder(contract, LimitOrder("BUY", quantity, quote.ask))
        await eventually(lambda: trade.orderStatus.filled == quote.ask_size)
        # Deeper offers are above the limit: the rest keeps working at the limit.
        assert trade.orderStatus.status == "Submitted"
        assert _executions(trade) == [(quote.ask_size, quote.ask)]
        # The next step shows a fresh size at the same ask: the remainder fills there.
        simulator.set_price("AAPL", 190.0)
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert {price for _, price in _executions(trade)} == {quote.ask}


async def test_orders_in_one_step_share_the_displayed_size(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        quote = simulator.quote("AAPL")
        first = ib.placeOrder(contract, MarketOrder("BUY", quote.ask_size))
        second = ib.placeOrder(contract, MarketOrder("BUY", 10))
        await eventually(lambda: first.isDone() and second.isDone())
        assert _executions(first) == [(quote.ask_size, quote.ask)]
        assert _executions(second) == [(10, round(quote.ask + TICK, 2))]


async def test_ioc_takes_what_is_shown_and_fok_needs_it_all(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        quote = simulator.quote("AAPL")
        bid_depth = quote.bid_size * 5
        fok = ib.placeOrder(contract, MarketOrder("SELL", bid_depth + 1, tif="FOK"))
        await eventually(fok.isDone)
        assert (fok.orderStatus.status, fok.fills) == ("Cancelled", [])
        ioc = ib.placeOrder(contract, MarketOrder("SELL", bid_depth + 1, tif="IOC"))
        await eventually(ioc.isDone)
        assert (ioc.orderStatus.status, ioc.orderStatus.filled) == ("Cancelled", bid_depth)
        assert len(ioc.fills) == 5


async def test_unlimited_liquidity_fills_any_size_at_the_touch() -> None:
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, fills=FillPolicy(liquidity="unlimited")
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        contract = await _aapl(ib)
        quote = simulator.quote("AAPL")
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10_000))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert _executions(trade) == [(10_000, quote.ask)]


async def test_the_same_seed_gives_the_same_executions() -> None:
    async def run() -> list[tuple[float, float]]:
        config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0, seed=11)
        async with Simulator(config) as simulator, connected(simulator) as ib:
            contract = await _aapl(ib)
            trade = ib.placeOrder(contract, MarketOrder("BUY", 5_000))
            for _ in range(10):
                if trade.isDone():
                    break
                await simulator.step()
                await asyncio.sleep(0.01)
            await eventually(trade.isDone)
            return _executions(trade)

    first = await run()
    assert len(first) > 1
    assert await run() == first


async def test_liquidity_switches_through_the_control_port(simulator: Simulator) -> None:
    assert await execute(simulator, "liquidity") == (
        "ok liquidity=displayed levels=5 level_size=touch spacing_ticks=1"
    )
    assert await execute(simulator, "liquidity unlimited") == (
        "ok liquidity=unlimited levels=5 level_size=touch spacing_ticks=1"
    )
    async with connected(simulator) as ib:
        contract = await _aapl(ib)
        trade = ib.placeOrder(contract, MarketOrder("BUY", 10_000))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert len(trade.fills) == 1
    assert await execute(simulator, "liquidity displayed 2 300") == (
        "ok liquidity=displayed levels=2 level_size=300 spacing_ticks=1"
    )
    assert (await execute(simulator, "liquidity endless")).startswith("error liquidity must be")


def test_liquidity_from_the_command_line() -> None:
    default = config_from_arguments(build_parser().parse_args([]))
    assert (default.fills.liquidity, default.fills.book_levels) == ("displayed", 5)
    arguments = ["--liquidity", "unlimited", "--book-levels", "3", "--level-size", "200"]
    config = config_from_arguments(build_parser().parse_args(arguments))
    assert (config.fills.liquidity, config.fills.book_levels, config.fills.level_size) == (
        "unlimited",
        3,
        200,
    )
    with pytest.raises(SystemExit):
        config_from_arguments(build_parser().parse_args(["--book-levels", "0"]))
