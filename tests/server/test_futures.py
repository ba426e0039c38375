"""Futures through the gRPC API, against the simulated gateway: every listed expiry, the front
month, continuous history, quotes, orders, positions with the multiplier, and the options on a
future."""

from __future__ import annotations

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
from tests.support.databases import migrated_database
from tests.support.waiting import eventually

# From Tuesday 2026-03-03 the simulator lists the next five quarterly ES contracts, each
# expiring on its third Friday (June 2026: Thursday the 18th, Juneteenth); ES is CME's E-mini
# S&P 500, multiplier 50, tick 0.25
# (https://www.cmegroup.com/markets/equities/sp/e-mini-sandp500.contractSpecs.html).
ES_EXPIRIES = ["20260320", "20260618", "20260918", "20261218", "20270319"]
ES_LOCAL_SYMBOLS = ["ESH6", "ESM6", "ESU6", "ESZ6", "ESH7"]


def future(month: str = "", exchange: str = "") -> common_pb2.Contract:
    return common_pb2.Contract(
        symbol="ES",
        security_type=common_pb2.SECURITY_TYPE_FUTURE,
        exchange=exchange,
        last_trade_date_or_contract_month=month,
    )


def continuous() -> common_pb2.Contract:
    return common_pb2.Contract(
        symbol="ES", security_type=common_pb2.SECURITY_TYPE_CONTINUOUS_FUTURE, exchange="CME"
    )


@pytest.fixture
async def server(simulator: Simulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with (
        migrated_database("sqlite", tmp_path) as database,
        running_server(simulator, database) as running,
    ):
        yield running


async def refused(call: Any) -> ApiError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return ApiError.from_rpc_error(raised.value)


async def test_every_listed_expiry_with_its_multiplier(server: RunningServer) -> None:
    # IB's Contract: "Strings with format YYYYMM will be interpreted as the Contract Month
    # whereas YYYYMMDD will be interpreted as Last Trading Day"; without one, a contract-details
    # request answers every listed contract
    # (https://interactivebrokers.github.io/tws-api/classIBApi_1_1Contract.html).
    found = await server.client.market_data.GetContractDetails(
        pb.GetContractDetailsRequest(contract=future())
    )
    contracts = [item.contract for item in found.details]
    assert [c.last_trade_date_or_contract_month for c in contracts] == ES_EXPIRIES
    assert [c.local_symbol for c in contracts] == ES_LOCAL_SYMBOLS
    assert {c.multiplier for c in contracts} == {"50"}
    assert {c.exchange for c in contracts} == {"CME"}, "the listing exchange IB reports"
    assert {c.security_type for c in contracts} == {common_pb2.SECURITY_TYPE_FUTURE}
    assert {item.minimum_tick for item in found.details} == {"0.25"}


async def test_the_front_month_is_what_a_continuous_future_stands_for(
    server: RunningServer,
) -> None:
    # "If your quest is to get what IB considers the front contract, then this can be done by
    # qualifying the ContFuture contract. It's conId is that of the front contract"
    # (github.com/erdewit/ib_insync/issues/263). The server answers with that future itself.
    [front] = (
        await server.client.market_data.GetContractDetails(
            pb.GetContractDetailsRequest(contract=continuous())
        )
    ).details
    assert front.contract.security_type == common_pb2.SECURITY_TYPE_FUTURE
    assert front.contract.local_symbol == "ESH6"
    assert front.contract.last_trade_date_or_contract_month == "20260320"
    assert front.contract.multiplier == "50"
    [march] = (
        await server.client.market_data.GetContractDetails(
            pb.GetContractDetailsRequest(contract=future("202603", "CME"))
        )
    ).details
    assert front.contract.con_id == march.contract.con_id
    # Returned as is, it quotes: one tick wide.
    quote = await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=front.contract))
    assert quote.quote.contract.con_id == march.contract.con_id
    assert Decimal(quote.quote.ask) - Decimal(quote.quote.bid) == Decimal("0.25")
    assert not quote.quote.HasField("greeks")


async def test_continuous_history_and_no_quotes_for_a_continuous_future(
    server: RunningServer,
) -> None:
    # "Continuous futures cannot be used with real time data or to place orders, but only for
    # historical data" (IB, quoted in github.com/erdewit/ib_insync/issues/263).
    bars = await server.client.market_data.GetHistoricalBars(
        pb.GetHistoricalBarsRequest(
            contract=continuous(),
            bar_size=pb.BAR_SIZE_1_MINUTE,
            span=pb.HistorySpan(count=1800, unit=pb.SPAN_UNIT_SECONDS),
        )
    )
    assert bars.bars
    assert bars.contract.security_type == common_pb2.SECURITY_TYPE_CONTINUOUS_FUTURE
    assert bars.contract.local_symbol == "ESH6"
    error = await refused(
        server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=continuous()))
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["contract.security_type"]
    order = order_service_pb2.PlaceOrderRequest(
        account=ACCOUNT,
        contract=continuous(),
        side=common_pb2.SIDE_BUY,
        quantity="1",
        order_type=order_service_pb2.ORDER_TYPE_MARKET,
    )
    error = await refused(server.client.orders.PlaceOrder(order))
    assert [v.field for v in error.field_violations] == ["contract.security_type"]


async def test_a_future_needs_its_month_to_name_one_contract(server: RunningServer) -> None:
    error = await refused(server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=future())))
    assert [v.field for v in error.field_violations] == [
        "contract.last_trade_date_or_contract_month"
    ]
    bad = future("2026-06")
    error = await refused(server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=bad)))
    assert [v.field for v in error.field_violations] == [
        "contract.last_trade_date_or_contract_month"
    ]
    # By its local symbol, no month needed; the exchange is IB's when not given.
    by_symbol = common_pb2.Contract(
        symbol="ES", local_symbol="ESM6", security_type=common_pb2.SECURITY_TYPE_FUTURE
    )
    quote = await server.client.market_data.GetQuote(pb.GetQuoteRequest(contract=by_symbol))
    assert quote.quote.contract.exchange == "CME"
    assert quote.quote.contract.last_trade_date_or_contract_month == "20260618"


async def test_a_future_trades_and_its_position_carries_the_multiplier(
    server: RunningServer,
) -> None:
    # IB reports averageCost per contract, the multiplier included (a GC fill at 1477.3 shows
    # averageCost 147732.37: github.com/erdewit/ib_insync/issues/175), and marks the position
    # at price x multiplier; the simulator charges 0.85 a contract.
    server.simulator.set_price("ESH6", 5200.0)
    placed = await server.client.orders.PlaceOrder(
        order_service_pb2.PlaceOrderRequest(
            account=ACCOUNT,
            client_order_id="future-buy-1",
            contract=future("202603"),
            side=common_pb2.SIDE_BUY,
            quantity="2",
            order_type=order_service_pb2.ORDER_TYPE_MARKET,
        )
    )
    assert placed.order.contract.exchange == "CME"
    order_id = placed.order.order_id

    async def filled() -> order_service_pb2.Order | None:
        order = (
            await server.client.orders.GetOrder(
                order_service_pb2.GetOrderRequest(order_id=order_id)
            )
        ).order
        done = order.status == order_service_pb2.ORDER_STATUS_FILLED and order.commission
        return order if done else None

    await eventually(filled, message="the future order never filled")
    order = await filled()
    assert order is not None
    assert order.average_fill_price == "5200.25"
    assert order.commission == "1.7"

    async def position() -> portfolio_pb.Position | None:
        listed = await server.client.portfolio.ListPositions(
            portfolio_pb.ListPositionsRequest(account=ACCOUNT, symbol="ES")
        )
        found = [p for p in listed.positions if p.contract.con_id == order.contract.con_id]
        return found[0] if found and found[0].market_value else None

    await eventually(position, message="no future position with a market value")
    held = await position()
    assert held is not None
    assert (held.quantity, held.multiplier, held.contract.local_symbol) == ("2", "50", "ESH6")
    assert abs(Decimal(held.average_cost) - Decimal("260013.35")) < Decimal("0.000001")
    assert abs(Decimal(held.average_price) - Decimal("5200.267")) < Decimal("0.000001")
    assert Decimal(held.market_value) == 2 * Decimal(held.market_price) * 50
    # The position's PnL moves 50 dollars a point a contract.
    server.simulator.set_price("ESH6", 5210.0)
    await server.simulator.step()

    async def moved() -> bool:
        now = await position()
        return now is not None and Decimal(now.market_price) != Decimal(held.market_price)

    await eventually(moved, message="the position was never marked again")
    now = await position()
    assert now is not None
    expected = 2 * Decimal(now.market_price) * 50 - 2 * Decimal(now.average_cost)
    assert abs(Decimal(now.unrealized_pnl) - expected) < Decimal("0.01")


async def test_the_options_on_a_future(server: RunningServer) -> None:
    # For options on futures reqSecDefOptParams names the future and its exchange
    # (futFopExchange, https://interactivebrokers.github.io/tws-api/options.html).
    stub: option_service_pb2_grpc.OptionServiceAsyncStub = (
        option_service_pb2_grpc.OptionServiceStub(server.client.channel)
    )
    chain = await stub.GetOptionChain(
        option_service_pb2.GetOptionChainRequest(underlying=future("202603", "CME"))
    )
    [row] = chain.chains
    assert (row.exchange, row.trading_class, row.multiplier) == ("CME", "ES", "50")
    assert list(row.expirations) == ["20260320"]
    assert row.underlying_con_id == chain.underlying.con_id
    server.simulator.set_price("ESH6", 5200.0)
    call = stub.StreamOptionChain(
        option_service_pb2.StreamOptionChainRequest(
            underlying=future("202603"), expiration="20260320", strikes_per_side=1
        )
    )
    try:
        first = await anext(aiter(call))
    finally:
        call.cancel()
    window = first.window
    assert window.exchange == "CME"
    assert [row.strike for row in window.strikes] == ["5175", "5200", "5225"]
    options = [row.call for row in window.strikes] + [row.put for row in window.strikes]
    assert {o.security_type for o in options} == {common_pb2.SECURITY_TYPE_FUTURE_OPTION}
    assert {o.multiplier for o in options} == {"50"}
    assert window.strikes[1].call.local_symbol == "ESH6 C5200"
