"""Options through the gRPC API, against the simulated gateway: chains, contract details,
quotes with greeks, chain streams on the shared lines, orders, and positions with the x100
multiplier."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from ibkr.v1 import common_pb2, option_service_pb2, option_service_pb2_grpc, order_service_pb2
from ibkr.v1 import market_data_service_pb2 as pb
from ibkr.v1 import portfolio_service_pb2 as portfolio_pb
from ibkr_client import ApiError
from ibkr_simulator import Simulator
from tests.server.conftest import ACCOUNT, RunningServer, running_server
from tests.server.test_market_data import QuoteCollector, lines_in_use
from tests.support.databases import migrated_database
from tests.support.waiting import eventually

AAPL_CON_ID = 265598
# The simulator's clock starts on Tuesday 2026-03-03: the next four Fridays and the third
# Fridays of March, April and May (tests/simulator/test_options.py).
AAPL_EXPIRIES = ["20260306", "20260313", "20260320", "20260327", "20260417", "20260515"]
EXPIRY = "20260320"


def aapl() -> common_pb2.Contract:
    return common_pb2.Contract(symbol="AAPL", security_type=common_pb2.SECURITY_TYPE_STOCK)


def aapl_option(strike: str = "190", right: int = common_pb2.OPTION_RIGHT_CALL) -> Any:
    return common_pb2.Contract(
        symbol="AAPL",
        security_type=common_pb2.SECURITY_TYPE_OPTION,
        last_trade_date_or_contract_month=EXPIRY,
        strike=strike,
        right=right,  # type: ignore[arg-type]
    )


@pytest.fixture
async def server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as running,
    ):
        yield running


def options_stub(server: RunningServer) -> option_service_pb2_grpc.OptionServiceAsyncStub:
    stub: option_service_pb2_grpc.OptionServiceAsyncStub = server.client.options
    return stub


async def refused(call: Any) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return ApiError.from_rpc_error(raised.value)


def fields_of(error: ApiError) -> set[str]:
    return {violation.field for violation in error.field_violations}


class ChainCollector:
    def __init__(self, server: RunningServer, request: option_service_pb2.StreamOptionChainRequest):
        self.responses: list[option_service_pb2.StreamOptionChainResponse] = []
        self._call = options_stub(server).StreamOptionChain(request)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for response in self._call:
            self.responses.append(response)

    def kinds(self) -> list[str | None]:
        return [response.WhichOneof("payload") for response in self.responses]

    def quotes(self) -> dict[int, pb.Quote]:
        latest: dict[int, pb.Quote] = {}
        for response in self.responses:
            if response.WhichOneof("payload") == "quote":
                latest[response.quote.contract.con_id] = response.quote
        return latest

    async def close(self) -> None:
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def chain_stream(server: RunningServer, **fields: Any) -> AsyncIterator[ChainCollector]:
    request = option_service_pb2.StreamOptionChainRequest(
        underlying=aapl(), expiration=EXPIRY, **fields
    )
    collector = ChainCollector(server, request)
    try:
        yield collector
    finally:
        await collector.close()


async def test_the_option_chain_of_a_stock(server: RunningServer) -> None:
    # reqSecDefOptParams answers one row per exchange and trading class with the multiplier,
    # expirations and strikes (https://interactivebrokers.github.io/tws-api/options.html).
    chain = await options_stub(server).GetOptionChain(
        option_service_pb2.GetOptionChainRequest(underlying=aapl())
    )
    assert chain.underlying.con_id == AAPL_CON_ID
    exchanges = [row.exchange for row in chain.chains]
    assert exchanges == sorted(exchanges)
    assert {"SMART", "CBOE"} <= set(exchanges)
    [smart] = [row for row in chain.chains if row.exchange == "SMART"]
    assert (smart.trading_class, smart.multiplier, smart.underlying_con_id) == (
        "AAPL",
        "100",
        AAPL_CON_ID,
    )
    assert list(smart.expirations) == AAPL_EXPIRIES
    strikes = [Decimal(strike) for strike in smart.strikes]
    assert strikes == sorted(strikes)
    assert Decimal(190) in strikes
    assert "190" in smart.strikes, "strikes are trimmed decimal strings"
    only_cboe = await options_stub(server).GetOptionChain(
        option_service_pb2.GetOptionChainRequest(underlying=aapl(), exchange="cboe")
    )
    assert [row.exchange for row in only_cboe.chains] == ["CBOE"]


async def test_option_contract_details_one_and_all_strikes(server: RunningServer) -> None:
    [details] = (
        await server.client.market_data.GetContractDetails(
            pb.GetContractDetailsRequest(contract=aapl_option())
        )
    ).details
    contract = details.contract
    assert contract.security_type == common_pb2.SECURITY_TYPE_OPTION
    assert (contract.local_symbol, contract.multiplier) == ("AAPL  260320C00190000", "100")
    assert (contract.strike, contract.right) == ("190", common_pb2.OPTION_RIGHT_CALL)
    assert contract.last_trade_date_or_contract_month == EXPIRY
    # A lookup may leave the strike and right out: every listed option comes back.
    partial = common_pb2.Contract(
        symbol="AAPL",
        security_type=common_pb2.SECURITY_TYPE_OPTION,
        last_trade_date_or_contract_month=EXPIRY,
    )
    every = await server.client.market_data.GetContractDetails(
        pb.GetContractDetailsRequest(contract=partial)
    )
    rights = {item.contract.right for item in every.details}
    assert rights == {common_pb2.OPTION_RIGHT_CALL, common_pb2.OPTION_RIGHT_PUT}
    assert len(every.details) > 20
    # By con_id (with the security type) the same option comes back.
    by_id = common_pb2.Contract(
        con_id=contract.con_id, security_type=common_pb2.SECURITY_TYPE_OPTION
    )
    quote = await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=by_id))
    assert quote.quote.contract.local_symbol == "AAPL  260320C00190000"


async def test_an_option_quote_carries_its_greeks(server: RunningServer) -> None:
    # tickOptionComputation: the model's volatility, delta and gamma per unit of the
    # underlying, vega per volatility point, theta per calendar day, the underlying's price
    # (https://interactivebrokers.github.io/tws-api/option_computations.html).
    server.simulator.set_price("AAPL", 190.0)
    call = await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=aapl_option()))
    put = await server.client.market_data.GetQuote(
        pb.GetQuoteRequest(contract=aapl_option(right=common_pb2.OPTION_RIGHT_PUT))
    )
    for quote in (call.quote, put.quote):
        assert quote.HasField("greeks"), quote
        greeks = quote.greeks
        assert 0 < Decimal(greeks.implied_volatility) < 2
        assert Decimal(greeks.gamma) > 0
        assert Decimal(greeks.vega) > 0
        assert Decimal(greeks.theta) < 0
        assert abs(Decimal(greeks.underlying_price) - 190) < 1
        assert Decimal(greeks.option_price) > 0
        assert Decimal(quote.bid) <= Decimal(greeks.option_price) <= Decimal(quote.ask)
    assert 0 < Decimal(call.quote.greeks.delta) < 1
    assert -1 < Decimal(put.quote.greeks.delta) < 0
    # A stock has none.
    stock = await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=aapl()))
    assert not stock.quote.HasField("greeks")


async def test_a_chain_stream_sends_its_window_then_quotes_with_greeks(
    server: RunningServer,
) -> None:
    server.simulator.set_price("AAPL", 191.0)
    async with chain_stream(server, strikes_per_side=2) as chain:
        await eventually(lambda: "window" in chain.kinds())
        assert chain.kinds()[0] == "window", "the window comes first"
        window = chain.responses[0].window
        assert window.underlying.con_id == AAPL_CON_ID
        assert (window.exchange, window.trading_class, window.multiplier) == (
            "SMART",
            "AAPL",
            "100",
        )
        assert window.expiration == EXPIRY
        assert Decimal(window.reference_price) == Decimal(191)
        # Strikes 2.5 apart around 191: 190 is the nearest, two each side.
        assert window.at_the_money_strike == "190"
        assert [row.strike for row in window.strikes] == ["185", "187.5", "190", "192.5", "195"]
        con_ids = set()
        for row in window.strikes:
            assert row.call.right == common_pb2.OPTION_RIGHT_CALL
            assert row.put.right == common_pb2.OPTION_RIGHT_PUT
            assert row.call.strike == row.put.strike == row.strike
            con_ids |= {row.call.con_id, row.put.con_id}
        assert len(con_ids) == 10
        await server.simulator.step()
        await eventually(lambda: con_ids <= set(chain.quotes()), message="no quote per option")
        await eventually(lambda: AAPL_CON_ID in chain.quotes())
        quotes = chain.quotes()
        assert all(quotes[con_id].HasField("greeks") for con_id in con_ids)
        assert not quotes[AAPL_CON_ID].HasField("greeks")
        assert await lines_in_use(server) == 11  # ten options and the underlying


async def test_a_chain_stream_shares_lines_with_quote_streams(server: RunningServer) -> None:
    quotes = QuoteCollector(server, ["AAPL"])
    try:
        await server.simulator.step()
        await eventually(lambda: quotes.symbols() == {"AAPL"})
        async with chain_stream(
            server, strikes_per_side=1, right=common_pb2.OPTION_RIGHT_PUT
        ) as chain:
            await eventually(lambda: "window" in chain.kinds())
            window = chain.responses[0].window
            assert [row.HasField("call") for row in window.strikes] == [False] * 3
            assert all(row.HasField("put") for row in window.strikes)
            # Three puts, and the AAPL line the quote stream already holds.
            assert await lines_in_use(server) == 4
    finally:
        await quotes.close()


async def test_a_chain_window_given_as_a_strike_range(server: RunningServer) -> None:
    async with chain_stream(server, minimum_strike="180", maximum_strike="185.00") as chain:
        await eventually(lambda: "window" in chain.kinds())
        window = chain.responses[0].window
        assert [row.strike for row in window.strikes] == ["180", "182.5", "185"]
        assert (window.reference_price, window.at_the_money_strike) == ("", "")


async def test_past_the_line_limit_a_chain_stream_is_refused_before_anything_is_sent(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database, market_data_line_limit=8) as server,
    ):
        call = options_stub(server).StreamOptionChain(
            option_service_pb2.StreamOptionChainRequest(
                underlying=aapl(), expiration=EXPIRY, strikes_per_side=2
            )
        )
        received: list[option_service_pb2.StreamOptionChainResponse] = []
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            received += [response async for response in call]
        assert received == []
        error = ApiError.from_rpc_error(raised.value)
        assert (error.code, error.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MARKET_DATA_LINE_LIMIT_EXCEEDED",
        )
        assert error.metadata["limit"] == "8"
        # Fewer strikes fit: one a side is three calls, three puts and the underlying.
        async with chain_stream(server, strikes_per_side=1) as chain:
            await eventually(lambda: "window" in chain.kinds())
            assert await lines_in_use(server) == 7


async def test_chain_requests_are_checked_field_by_field(server: RunningServer) -> None:
    stub = options_stub(server)

    async def stream_error(**fields: Any) -> ApiError:
        call = stub.StreamOptionChain(option_service_pb2.StreamOptionChainRequest(**fields))
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in call:
                pass
        return ApiError.from_rpc_error(raised.value)

    error = await stream_error(strikes_per_side=30, minimum_strike="abc", right=7)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields_of(error) == {
        "underlying",
        "expiration",
        "strikes_per_side",
        "minimum_strike",
        "maximum_strike",
        "right",
    }
    error = await stream_error(underlying=aapl(), expiration="2026-03-20")
    assert fields_of(error) == {"expiration"}
    # An expiration IB does not list is named with the ones it does.
    error = await stream_error(underlying=aapl(), expiration="20260321")
    assert fields_of(error) == {"expiration"}
    assert "20260320" in error.field_violations[0].description
    error = await stream_error(underlying=aapl(), expiration=EXPIRY, exchange="NOWHERE")
    assert fields_of(error) == {"exchange"}
    error = await refused(
        stub.GetOptionChain(
            option_service_pb2.GetOptionChainRequest(
                underlying=common_pb2.Contract(
                    symbol="EUR", security_type=common_pb2.SECURITY_TYPE_FOREX
                )
            )
        )
    )
    assert fields_of(error) == {"underlying.security_type"}


async def test_option_contracts_are_checked_field_by_field(server: RunningServer) -> None:
    def quote(contract: common_pb2.Contract) -> Any:
        return server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=contract))

    # One option needs its expiration day, strike and right.
    bare = common_pb2.Contract(symbol="AAPL", security_type=common_pb2.SECURITY_TYPE_OPTION)
    error = await refused(quote(bare))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert fields_of(error) == {
        "contract.last_trade_date_or_contract_month",
        "contract.strike",
        "contract.right",
    }
    month = aapl_option()
    month.last_trade_date_or_contract_month = "202603"
    assert fields_of(await refused(quote(month))) == {"contract.last_trade_date_or_contract_month"}
    bad = aapl_option(strike="1e3")
    bad.last_trade_date_or_contract_month = "20261340"
    assert fields_of(await refused(quote(bad))) == {
        "contract.last_trade_date_or_contract_month",
        "contract.strike",
    }
    # Strikes, rights and expiries belong to options (and expiries to futures).
    stock = aapl()
    stock.strike = "190"
    stock.right = common_pb2.OPTION_RIGHT_PUT
    stock.last_trade_date_or_contract_month = "20260320"
    assert fields_of(await refused(quote(stock))) == {
        "contract.strike",
        "contract.right",
        "contract.last_trade_date_or_contract_month",
    }
    # A contract IB does not list is not found.
    unlisted = aapl_option(strike="191")
    error = await refused(quote(unlisted))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "IB_INVALID_CONTRACT")


async def test_an_option_order_fills_and_its_position_carries_the_multiplier(
    server: RunningServer,
) -> None:
    # IB reports an option position's averageCost per contract with the multiplier and the
    # commission in it, marketPrice per share and marketValue = position x price x 100
    # (simulator README, "Futures and options"; IB's averageCost includes the multiplier:
    # github.com/erdewit/ib_insync/issues/175).
    server.simulator.set_price("AAPL", 190.0)
    placed = await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            client_order_id="option-buy-1",
            contract=aapl_option(),
            side=common_pb2.SIDE_BUY,
            quantity="2",
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
        )
    )
    order_id = placed.order.order_id
    assert placed.order.contract.security_type == common_pb2.SECURITY_TYPE_OPTION

    async def filled() -> order_service_pb2.Order | None:
        order = (
            await server.client.orders.GetOrder(
                order_service_pb2.GetOrderRequest(order_id=order_id)
            )
        ).order
        done = order.status == order_service_pb2.ORDER_STATUS_FILLED and order.commission
        return order if done else None

    await eventually(filled, message="the option order never filled")
    order = await filled()
    assert order is not None
    assert order.contract.local_symbol == "AAPL  260320C00190000"
    price = Decimal(order.average_fill_price)
    commission = Decimal(order.commission)
    assert commission == Decimal("1.3")  # 0.65 a contract

    async def position() -> portfolio_pb.Position | None:
        listed = await server.client.portfolio.ListPositions(
            portfolio_pb.ListPositionsRequest(account=ACCOUNT, symbol="AAPL")
        )
        found = [p for p in listed.positions if p.contract.con_id == order.contract.con_id]
        return found[0] if found and found[0].market_value else None

    await eventually(position, message="no option position with a market value")
    held = await position()
    assert held is not None
    assert held.quantity == "2"
    assert held.multiplier == "100"
    assert held.contract.security_type == common_pb2.SECURITY_TYPE_OPTION
    assert held.contract.multiplier == "100"
    assert (held.contract.strike, held.contract.right) == ("190", common_pb2.OPTION_RIGHT_CALL)
    expected_cost = price * 100 + commission / 2
    assert abs(Decimal(held.average_cost) - expected_cost) < Decimal("0.01")
    assert abs(Decimal(held.average_price) - expected_cost / 100) < Decimal("0.0001")
    market_value = 2 * Decimal(held.market_price) * 100
    assert abs(Decimal(held.market_value) - market_value) < Decimal("0.01")
    unrealized = Decimal(held.market_value) - 2 * Decimal(held.average_cost)
    assert abs(Decimal(held.unrealized_pnl) - unrealized) < Decimal("0.05")
    # A stock position says 1.
    stock_order = await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            client_order_id="stock-buy-1",
            contract=aapl(),
            side=common_pb2.SIDE_BUY,
            quantity="3",
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
        )
    )
    assert stock_order.order.order_id

    async def stock_position() -> portfolio_pb.Position | None:
        listed = await server.client.portfolio.ListPositions(
            portfolio_pb.ListPositionsRequest(account=ACCOUNT, symbol="AAPL")
        )
        found = [p for p in listed.positions if p.contract.con_id == AAPL_CON_ID]
        return found[0] if found else None

    await eventually(stock_position)
    stock = await stock_position()
    assert stock is not None
    assert stock.multiplier == "1"
    assert stock.average_price == stock.average_cost
