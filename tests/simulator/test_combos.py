"""Combination (BAG) contracts in the simulator, through ib_async as a user script uses them.

IB's Spreads page defines a combination by its legs' conIds, ratios and actions
(https://interactivebrokers.github.io/tws-api/spread_contracts.html); ib_async writes the legs
into reqMktData (conId, ratio, action, exchange) and placeOrder (eight fields per leg, then
orderComboLegs and smartComboRoutingParams) and reads them back from openOrder (client.py,
decoder.py).
"""

from __future__ import annotations

from ib_async import IB, Bag, ComboLeg, Contract, ExecutionFilter, LimitOrder, MarketOrder, Option

from ibkr_simulator import Simulator
from ibkr_simulator.combos import COMBO_CON_ID
from tests.simulator.support import connected, eventually

EXPIRY = "20260320"


async def _option(ib: IB, strike: float, right: str) -> Contract:
    [found] = await ib.qualifyContractsAsync(Option("AAPL", EXPIRY, strike, right, "SMART"))
    assert isinstance(found, Contract)
    return found


async def _iron_condor(ib: IB) -> tuple[Contract, list[Contract]]:
    """Buy the 170 put, sell the 180 put, sell the 200 call, buy the 210 call: bought, it takes
    in a credit, so its price is negative."""
    legs = [
        await _option(ib, 170, "P"),
        await _option(ib, 180, "P"),
        await _option(ib, 200, "C"),
        await _option(ib, 210, "C"),
    ]
    actions = ["BUY", "SELL", "SELL", "BUY"]
    bag = Bag(  # type: ignore[no-untyped-call]  # ib_async: Bag(**kwargs), unannotated
        symbol="AAPL",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=leg.conId, ratio=1, action=action, exchange="SMART")
            for leg, action in zip(legs, actions, strict=True)
        ],
    )
    return bag, legs


def _net(simulator: Simulator, legs: list[Contract], signs: list[int], *, buying: bool) -> float:
    total = 0.0
    for leg, sign in zip(legs, signs, strict=True):
        quote = simulator.gateway.prices.quote(leg.conId)
        total += sign * (quote.ask if (sign > 0) == buying else quote.bid)
    return round(total, 10)


CONDOR_SIGNS = [1, -1, -1, 1]


async def test_a_combination_is_quoted_from_its_legs(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        bag, legs = await _iron_condor(ib)
        ticker = ib.reqMktData(bag)
        await eventually(lambda: ticker.bid == ticker.bid and ticker.ask == ticker.ask)
        bid = _net(simulator, legs, CONDOR_SIGNS, buying=False)
        ask = _net(simulator, legs, CONDOR_SIGNS, buying=True)
        assert abs(ticker.bid - bid) < 1e-9
        assert abs(ticker.ask - ask) < 1e-9
        assert ticker.bid < ticker.ask < 0  # a credit: buying the condor takes money in
        simulator.set_price("AAPL", 205.0)
        moved_ask = _net(simulator, legs, CONDOR_SIGNS, buying=True)
        await eventually(lambda: abs(ticker.ask - moved_ask) < 1e-9)


async def test_an_iron_condor_fills_all_legs_together_at_the_net_price(
    simulator: Simulator,
) -> None:
    # Executions are reported per leg and for the combination: Execution's cumQty and avgPrice
    # are "used in regular trades, combo trades and legs of the combo"
    # (https://interactivebrokers.github.io/tws-api/classIBApi_1_1Execution.html).
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        bag, legs = await _iron_condor(ib)
        ask = _net(simulator, legs, CONDOR_SIGNS, buying=True)
        leg_prices = {
            leg.conId: (
                simulator.gateway.prices.quote(leg.conId).ask
                if sign > 0
                else simulator.gateway.prices.quote(leg.conId).bid
            )
            for leg, sign in zip(legs, CONDOR_SIGNS, strict=True)
        }
        trade = ib.placeOrder(bag, LimitOrder("BUY", 2, ask))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        await eventually(lambda: len(trade.fills) == 5)
        assert abs(trade.orderStatus.avgFillPrice - ask) < 1e-9
        assert trade.orderStatus.filled == 2
        by_con_id = {fill.contract.conId: fill for fill in trade.fills}
        combo_fill = by_con_id.pop(COMBO_CON_ID)
        assert combo_fill.contract.secType == "BAG"
        assert combo_fill.execution.shares == 2
        assert abs(combo_fill.execution.price - ask) < 1e-9
        assert set(by_con_id) == {leg.conId for leg in legs}
        for leg, sign in zip(legs, CONDOR_SIGNS, strict=True):
            execution = by_con_id[leg.conId].execution
            assert execution.side == ("BOT" if sign > 0 else "SLD")
            assert execution.shares == 2
            assert execution.price == leg_prices[leg.conId]
        await eventually(
            lambda: len([p for p in ib.positions() if p.contract.secType == "OPT"]) == 4
        )
        held = {p.contract.conId: p.position for p in ib.positions()}
        assert [held[leg.conId] for leg in legs] == [2 * sign for sign in CONDOR_SIGNS]
        # Option commission on every leg: 0.65 a contract, 1.00 minimum per leg execution.
        await eventually(lambda: all(f.commissionReport.execId for f in trade.fills))
        leg_commissions = [by_con_id[leg.conId].commissionReport.commission for leg in legs]
        assert leg_commissions == [1.3, 1.3, 1.3, 1.3]
        completed = await ib.reqCompletedOrdersAsync(apiOnly=True)
        [done] = [t for t in completed if t.order.permId == trade.order.permId]
        assert [leg.conId for leg in done.contract.comboLegs] == [leg.conId for leg in legs]
        assert [leg.action for leg in done.contract.comboLegs] == ["BUY", "SELL", "SELL", "BUY"]


async def test_a_limit_the_legs_do_not_reach_waits_then_fills_whole(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        bag, legs = await _iron_condor(ib)
        bid = _net(simulator, legs, CONDOR_SIGNS, buying=False)
        order = LimitOrder("BUY", 1, round(bid - 1.0, 2))
        trade = ib.placeOrder(bag, order)
        await eventually(lambda: trade.orderStatus.status == "Submitted")
        await simulator.step(3)
        assert trade.orderStatus.filled == 0
        assert not [p for p in ib.positions() if p.contract.secType == "OPT"]
        ask = _net(simulator, legs, CONDOR_SIGNS, buying=True)
        order.lmtPrice = ask
        ib.placeOrder(bag, order)
        await eventually(lambda: trade.orderStatus.status == "Filled")
        assert abs(trade.orderStatus.avgFillPrice - ask) < 1e-9


async def test_a_ratio_spread_fills_each_leg_in_its_ratio(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        near = await _option(ib, 190, "C")
        far = await _option(ib, 200, "C")
        bag = Bag(  # type: ignore[no-untyped-call]  # ib_async: Bag(**kwargs), unannotated
            symbol="AAPL",
            exchange="SMART",
            currency="USD",
            comboLegs=[
                ComboLeg(conId=near.conId, ratio=1, action="BUY", exchange="SMART"),
                ComboLeg(conId=far.conId, ratio=2, action="SELL", exchange="SMART"),
            ],
        )
        trade = ib.placeOrder(bag, MarketOrder("SELL", 3))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        await eventually(lambda: len(trade.fills) == 3)
        shares = {fill.contract.conId: fill.execution for fill in trade.fills}
        # Selling the combination reverses every leg: the 190 call is sold, the 200 calls bought.
        assert (shares[near.conId].side, shares[near.conId].shares) == ("SLD", 3)
        assert (shares[far.conId].side, shares[far.conId].shares) == ("BOT", 6)
        await eventually(
            lambda: len([p for p in ib.positions() if p.contract.secType == "OPT"]) == 2
        )
        held = {p.contract.conId: p.position for p in ib.positions()}
        assert (held[near.conId], held[far.conId]) == (-3, 6)


async def test_what_if_margins_a_defined_risk_spread_at_its_widest_wing(
    simulator: Simulator,
) -> None:
    # A what-if order is answered with an openOrder whose OrderState carries the margin before,
    # the change and after (https://interactivebrokers.github.io/tws-api/margin.html).
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        bag, _ = await _iron_condor(ib)
        state = await ib.whatIfOrderAsync(bag, LimitOrder("BUY", 3, -2.0))
        # Wings 10 wide: at worst one side loses 10 per share, 1,000 per condor.
        assert float(state.initMarginChange) == 3000.0
        assert float(state.commission) > 0


async def test_reqexecutions_lists_every_leg_and_the_combination(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        simulator.set_price("AAPL", 190.0)
        bag, legs = await _iron_condor(ib)
        trade = ib.placeOrder(bag, MarketOrder("BUY", 1))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        fills = await ib.reqExecutionsAsync(ExecutionFilter())
        con_ids = sorted(fill.contract.conId for fill in fills)
        assert con_ids == sorted([COMBO_CON_ID, *(leg.conId for leg in legs)])


async def test_a_combination_with_an_unknown_leg_is_refused(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        errors: list[int] = []
        ib.errorEvent += lambda _id, code, _text, _contract: errors.append(code)
        call = await _option(ib, 190, "C")
        bag = Bag(  # type: ignore[no-untyped-call]  # ib_async: Bag(**kwargs), unannotated
            symbol="AAPL",
            exchange="SMART",
            currency="USD",
            comboLegs=[
                ComboLeg(conId=call.conId, ratio=1, action="BUY", exchange="SMART"),
                ComboLeg(conId=123, ratio=1, action="SELL", exchange="SMART"),
            ],
        )
        trade = ib.placeOrder(bag, MarketOrder("BUY", 1))
        await eventually(lambda: 201 in errors)
        assert trade.orderStatus.status == "Cancelled"
        ib.reqMktData(bag)
        await eventually(lambda: 200 in errors)
