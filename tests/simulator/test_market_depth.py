"""Market depth over the wire: reqMktDepth, cancelMktDepth and reqMktDepthExchanges with ib_async.

IB's definition (EWrapper.updateMktDepth / updateMktDepthL2, "Market Depth (L2)" in
https://www.interactivebrokers.com/campus/ibkr-api-page/twsapi-doc/): position is "the order
book's row being updated", operation "0 = insert, 1 = update, 2 = delete", side "0 for ask,
1 for bid"; updateMktDepthL2's marketMaker is "the exchange holding the order if
isSmartDepth is True"; reqMktDepth's numRows is "the number of rows on each side of the order
book", and "in case the market depth is smaller than the requested number of rows, the TWS
will simply return the available entries"
(https://interactivebrokers.github.io/tws-api/market_depth.html). ib_async keeps each side as
a dict keyed by position and lists its values in insertion order (wrapper.py
updateMktDepthL2), so the tests also check that the keys stay 0, 1, 2, ... in order.
"""

from __future__ import annotations

from collections.abc import Callable

from ib_async import IB, Contract, Forex, MarketOrder, MktDepthData, Stock, Ticker

from ibkr_simulator import Limits, Simulator, SimulatorConfig
from ibkr_simulator.liquidity import book_side
from tests.simulator.support import connected, eventually
from tests.support.market_hours import TRADING_MORNING

VENUES = {"ARCA", "NYSE", "NASDAQ", "BATS", "IEX"}


async def _stock(ib: IB, symbol: str, exchange: str = "ARCA") -> Contract:
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, exchange, "USD"))
    assert isinstance(contract, Contract)
    return contract


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda request, code, text, _contract: seen.append((request, code, text))
    return seen


def _recorded(ticker: Ticker) -> list[MktDepthData]:
    """Every row message of a ticker: ib_async empties domTicks after each update event."""
    seen: list[MktDepthData] = []
    ticker.updateEvent += lambda updated: seen.extend(updated.domTicks)
    return seen


def _coherent(ticker: Ticker) -> bool:
    """ib_async's dicts hold rows 0..n-1 in order, and the lists mirror them."""
    return (
        list(ticker.domBidsDict) == list(range(len(ticker.domBidsDict)))
        and list(ticker.domAsksDict) == list(range(len(ticker.domAsksDict)))
        and ticker.domBids == list(ticker.domBidsDict.values())
        and ticker.domAsks == list(ticker.domAsksDict.values())
    )


def _book_of(simulator: Simulator, symbol: str) -> tuple[list[tuple[float, float]], ...]:
    """The liquidity model's levels (what orders execute against), bids then asks."""
    quote = simulator.quote(symbol)
    contract = simulator.gateway.universe.by_symbol(symbol)
    assert contract is not None
    policy = simulator.gateway.orders.fill_policy
    return tuple(
        [(level.price, level.size) for level in book_side(quote, contract, policy, buy=buy)]
        for buy in (False, True)
    )


def _shown(ticker: Ticker) -> tuple[list[tuple[float, float]], ...]:
    return (
        [(level.price, level.size) for level in ticker.domBids],
        [(level.price, level.size) for level in ticker.domAsks],
    )


async def test_direct_depth_is_the_book_orders_trade_against(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _stock(ib, "AAPL")
        ticker = ib.reqMktDepth(contract, numRows=5)
        ticks = _recorded(ticker)
        await eventually(lambda: len(ticker.domBids) == len(ticker.domAsks) == 5)
        quote = simulator.quote("AAPL")
        assert (ticker.domBids[0].price, ticker.domBids[0].size) == (quote.bid, quote.bid_size)
        assert (ticker.domAsks[0].price, ticker.domAsks[0].size) == (quote.ask, quote.ask_size)
        assert _shown(ticker) == _book_of(simulator, "AAPL")
        # The first message of each row is an insert; a direct book names no market maker.
        assert {tick.operation for tick in ticks} == {0}
        assert all(level.marketMaker == "" for level in ticker.domBids + ticker.domAsks)
        for _ in range(10):
            await simulator.step()
            await eventually(lambda: _shown(ticker) == _book_of(simulator, "AAPL"))
            assert _coherent(ticker)
        assert 1 in {tick.operation for tick in ticks}


async def test_rows_are_at_most_the_number_asked_for(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        two = ib.reqMktDepth(await _stock(ib, "MSFT"), numRows=2)
        # The simulated book has five levels per side: a request for ten gets five.
        ten = ib.reqMktDepth(await _stock(ib, "KO", "NYSE"), numRows=10)
        await eventually(lambda: len(two.domAsks) == 2 and len(ten.domAsks) == 5)
        await simulator.step(3)
        await ib.reqCurrentTimeAsync()
        assert (len(two.domBids), len(two.domAsks)) == (2, 2)
        assert (len(ten.domBids), len(ten.domAsks)) == (5, 5)
        assert _shown(two) == tuple(side[:2] for side in _book_of(simulator, "MSFT"))


async def test_a_thinner_book_deletes_rows_from_the_end_and_a_deeper_one_inserts_them(
    simulator: Simulator,
) -> None:
    async with connected(simulator) as ib:
        ticker = ib.reqMktDepth(await _stock(ib, "AAPL"), numRows=5)
        ticks = _recorded(ticker)
        await eventually(lambda: len(ticker.domBids) == 5)
        simulator.set_liquidity("displayed", levels=3)
        await simulator.step()
        await eventually(lambda: len(ticker.domBids) == len(ticker.domAsks) == 3)
        deletes = [(tick.side, tick.position) for tick in ticks if tick.operation == 2]
        assert deletes == [(1, 4), (1, 3), (0, 4), (0, 3)]
        assert _coherent(ticker)
        simulator.set_liquidity("displayed", levels=5)
        await simulator.step()
        await eventually(lambda: len(ticker.domBids) == len(ticker.domAsks) == 5)
        assert _coherent(ticker)
        assert _shown(ticker) == _book_of(simulator, "AAPL")


async def test_a_market_order_takes_the_rows_depth_shows(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _stock(ib, "AAPL")
        ticker = ib.reqMktDepth(contract, numRows=5)
        await eventually(lambda: len(ticker.domAsks) == 5)
        first, second = ticker.domAsks[0], ticker.domAsks[1]
        trade = ib.placeOrder(contract, MarketOrder("BUY", first.size + 100))
        await eventually(lambda: trade.orderStatus.status == "Filled")
        executions = [(fill.execution.price, fill.execution.shares) for fill in trade.fills]
        assert executions == [(first.price, first.size), (second.price, 100)]


async def test_smart_depth_names_the_exchange_of_each_row(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        smart_flags: list[bool] = []
        original = ib.wrapper.updateMktDepthL2

        def spy(*fields: object) -> None:
            # updateMktDepthL2's last field says whether the row is SMART depth.
            smart_flags.append(bool(fields[-1]))
            original(*fields)  # type: ignore[arg-type]  # forwarded as decoded

        ib.wrapper.updateMktDepthL2 = spy  # type: ignore[method-assign,assignment]  # a spy on what the decoder calls
        contract = await _stock(ib, "MSFT", "SMART")
        # Five levels split between up to three venues each: 30 rows show all of them.
        ticker = ib.reqMktDepth(contract, numRows=30, isSmartDepth=True)
        await eventually(lambda: _smart_matches(ticker, simulator))
        for _ in range(5):
            await simulator.step()
            await eventually(lambda: _smart_matches(ticker, simulator))
            assert _coherent(ticker)
        assert len({row.marketMaker for row in ticker.domBids + ticker.domAsks}) > 1
        assert smart_flags
        assert all(smart_flags)
        cut = ib.reqMktDepth(await _stock(ib, "AAPL", "SMART"), numRows=2, isSmartDepth=True)
        await eventually(lambda: len(cut.domBids) == len(cut.domAsks) == 2)
        assert cut.domBids[0].price == simulator.quote("AAPL").bid


def _smart_matches(ticker: Ticker, simulator: Simulator) -> bool:
    """Every row names a venue; the rows of one price add up to the level's size; the best
    rows are at the quote."""
    quote = simulator.quote("MSFT")
    bids, asks = _book_of(simulator, "MSFT")
    for rows, levels in ((ticker.domBids, bids), (ticker.domAsks, asks)):
        if not rows or not all(row.marketMaker in VENUES for row in rows):
            return False
        totals: dict[float, float] = {}
        for row in rows:
            totals[row.price] = totals.get(row.price, 0.0) + row.size
        if list(totals.items()) != levels:
            return False
    return ticker.domBids[0].price == quote.bid and ticker.domAsks[0].price == quote.ask


async def test_forex_depth_on_idealpro(simulator: Simulator) -> None:
    # IB's own sample asks for EUR.GBP depth on IDEALPRO with isSmartDepth false
    # (reqMktDepth(2001, ContractSamples.EurGbpFx(), 5, false, null), market_depth.html).
    async with connected(simulator) as ib:
        [pair] = await ib.qualifyContractsAsync(Forex("EURUSD"))
        assert isinstance(pair, Contract)
        ticker = ib.reqMktDepth(pair, numRows=5)
        await eventually(lambda: len(ticker.domBids) == 5)
        assert _shown(ticker) == _book_of(simulator, "EUR")


async def test_cancel_stops_the_rows(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        contract = await _stock(ib, "AAPL")
        ticker = ib.reqMktDepth(contract, numRows=5)
        ticks = _recorded(ticker)
        await eventually(lambda: len(ticker.domBids) == 5)
        ib.cancelMktDepth(contract)
        await ib.reqCurrentTimeAsync()
        before = len(ticks)
        await simulator.step(5)
        await ib.reqCurrentTimeAsync()
        assert len(ticks) == before


async def test_at_most_three_contracts_have_depth(simulator: Simulator) -> None:
    # IB's 309: "Max number (3) of market depth requests has been reached. Note: TWS currently
    # limits users to a maximum of 3 distinct market depth requests. This same restriction
    # applies to API clients, however API clients may make multiple market depth requests for
    # the same security." (https://interactivebrokers.github.io/tws-api/message_codes.html).
    assert Limits().market_depth_subscriptions == 3
    async with connected(simulator) as ib, connected(simulator, client_id=2) as other:
        errors = _errors(ib)
        held = [await _stock(ib, symbol) for symbol in ("AAPL", "MSFT", "SPY")]
        for contract in held:
            ib.reqMktDepth(contract, numRows=5)
        # Another client asking for a contract already held takes no new slot.
        again = other.reqMktDepth(await _stock(other, "AAPL"), numRows=3)
        fourth = await _stock(ib, "QQQ")
        refused = ib.reqMktDepth(fourth, numRows=5)
        await eventually(lambda: len(errors) == 1)
        [(request_id, code, text)] = errors
        assert (code, text) == (309, "Max number (3) of market depth requests has been reached")
        assert ib.wrapper.reqId2Ticker[request_id] is refused
        await eventually(lambda: len(again.domBids) == 3)
        ib.cancelMktDepth(held[0])  # AAPL is still held by the other client
        retry = ib.reqMktDepth(await _stock(ib, "IWM"), numRows=5)
        await eventually(lambda: len(errors) == 2)
        assert errors[1][1] == 309
        ib.cancelMktDepth(held[1])
        retry = ib.reqMktDepth(await _stock(ib, "IWM"), numRows=5)
        await eventually(lambda: len(retry.domBids) == 5)
        assert len(errors) == 2


async def test_refusals_name_the_request() -> None:
    # 10092 "Deep market data is not supported for this combination of security
    # type/exchange" for a SMART contract without isSmartDepth, as users of real gateways
    # report it (e.g. IBKR-facing projects that asked for depth on a SMART stock with the
    # default isSmartDepth=False); 200 for an unknown contract (message codes); 321 for no rows
    # and 322 for a duplicate ticker id, as userFRM/ibx (a gateway reimplementation written
    # against the real one, src/engine/hot_loop/mod.rs route_depth_subscribe) answers them;
    # 310 "Can't find the subscribed market depth with tickerId:" for a cancel of nothing
    # (message codes).
    config = SimulatorConfig(start_time=TRADING_MORNING, port=0, tick_rate=0)
    async with Simulator(config) as simulator, connected(simulator) as ib:
        errors = _errors(ib)
        smart = await _stock(ib, "AAPL", "SMART")
        expect: list[tuple[int, int]] = []

        def request(contract: Contract, rows: int, code: int) -> int:
            request_id = ib.client.getReqId()
            ib.client.reqMktDepth(
                request_id, contract, rows, isSmartDepth=False, mktDepthOptions=None
            )  # type: ignore[no-untyped-call]  # untyped in ib_async
            expect.append((request_id, code))
            return request_id

        request(smart, 5, 10092)
        request(Stock("NOPE", "ARCA", "USD"), 5, 200)
        request(await _stock(ib, "AAPL"), 0, 321)
        microsoft = await _stock(ib, "MSFT")
        ticker = ib.reqMktDepth(microsoft, numRows=5)
        [held] = [key for key, value in ib.wrapper.reqId2Ticker.items() if value is ticker]
        ib.client.reqMktDepth(held, microsoft, 5, isSmartDepth=False, mktDepthOptions=None)  # type: ignore[no-untyped-call]  # untyped in ib_async
        expect.append((held, 322))
        ib.client.cancelMktDepth(999_999, isSmartDepth=False)  # type: ignore[no-untyped-call]  # untyped in ib_async
        expect.append((999_999, 310))
        await eventually(lambda: len(errors) == len(expect))
        assert [(request_id, code) for request_id, code, _ in errors] == expect
        assert errors[0][2].startswith("Deep market data is not supported")
        assert errors[-1][2] == "Can't find the subscribed market depth with tickerId:999999"


async def test_depth_exchanges_list_every_venue_with_a_book(simulator: Simulator) -> None:
    # IB answers reqMktDepthExchanges with "a list of exchanges from where market depth is
    # available" (Market Depth Exchanges, twsapi-doc); each DepthMktDataDescription carries exchange,
    # secType, listingExch, serviceDataType and aggGroup (ib_async decoder mktDepthExchanges).
    async with connected(simulator) as ib:
        descriptions = await ib.reqMktDepthExchangesAsync()
        pairs = {(item.exchange, item.secType) for item in descriptions}
        assert {(venue, "STK") for venue in VENUES} <= pairs
        assert ("IDEALPRO", "CASH") in pairs
        assert ("SMART", "STK") not in pairs
        assert {item.serviceDataType for item in descriptions} == {"Deep"}


async def test_a_competing_session_and_a_data_loss_stop_depth(simulator: Simulator) -> None:
    # 10197 for new market data while another session holds it; 1101 drops every
    # subscription (message codes), depth included.
    async with connected(simulator) as ib:
        errors = _errors(ib)
        ticker = ib.reqMktDepth(await _stock(ib, "AAPL"), numRows=5)
        seen = _recorded(ticker)
        await eventually(lambda: len(ticker.domBids) == 5)
        simulator.start_competing_session()
        ib.reqMktDepth(await _stock(ib, "MSFT"), numRows=5)
        await eventually(lambda: [code for _, code, _ in errors] == [10197])
        ticks = len(seen)
        await simulator.step(3)
        await ib.reqCurrentTimeAsync()
        assert len(seen) == ticks
        simulator.end_competing_session()
        simulator.connectivity_lost()
        simulator.connectivity_restored(data_lost=True)
        await eventually(lambda: 1101 in [code for _, code, _ in errors])
        await simulator.step(3)
        await ib.reqCurrentTimeAsync()
        assert len(seen) == ticks
        assert _count(errors, lambda code: code not in {10197, 1100, 1101}) == 0


def _count(errors: list[tuple[int, int, str]], wanted: Callable[[int], bool]) -> int:
    return sum(1 for _, code, _ in errors if wanted(code))
