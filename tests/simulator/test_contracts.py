"""Contracts: qualification, details, symbol search, unknown contracts, user-extended universe."""

from __future__ import annotations

import json
from pathlib import Path

from ib_async import Contract, Forex, Stock

from ibkr_simulator import Simulator, SimulatorConfig
from ibkr_simulator.contracts import ContractUniverse
from tests.simulator.support import connected
from tests.support.market_hours import TRADING_MORNING


def test_the_bundled_universe_has_twenty_stocks_and_etfs_and_a_currency_pair() -> None:
    universe = ContractUniverse.load()
    stocks = [contract for contract in universe if contract.sec_type == "STK"]
    assert len(stocks) >= 20
    assert {"ETF", "COMMON"} <= {contract.stock_type for contract in stocks}
    assert [contract.local_symbol for contract in universe if contract.is_forex] == ["EUR.USD"]


async def test_qualifies_stocks_etfs_and_forex(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        aapl, spy, eurusd = await ib.qualifyContractsAsync(
            Stock("AAPL", "SMART", "USD"), Stock("SPY", "SMART", "USD"), Forex("EURUSD")
        )
        assert isinstance(aapl, Contract)
        assert (aapl.conId, aapl.primaryExchange, aapl.exchange) == (265598, "NASDAQ", "SMART")
        assert isinstance(spy, Contract)
        assert spy.conId == 756733
        assert isinstance(eurusd, Contract)
        assert (eurusd.secType, eurusd.localSymbol, eurusd.exchange) == (
            "CASH",
            "EUR.USD",
            "IDEALPRO",
        )


async def test_contract_details_carry_reference_data(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        [details] = await ib.reqContractDetailsAsync(Contract(conId=272093))
        assert details.longName == "MICROSOFT CORP"
        assert details.minTick == 0.01
        assert details.contract is not None
        assert details.contract.symbol == "MSFT"
        assert "LMT" in details.orderTypes.split(",")
        assert details.tradingHours
        assert details.timeZoneId == "US/Eastern"
        assert details.stockType == "COMMON"


async def test_an_unknown_contract_gets_error_200(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda request, code, _text, _contract: errors.append((request, code))
        [result] = await ib.qualifyContractsAsync(Stock("NOSUCH", "SMART", "USD"))
        assert result is None
        assert [code for _, code in errors] == [200]


async def test_symbol_search_matches_symbols_then_names(simulator: Simulator) -> None:
    async with connected(simulator) as ib:
        found = await ib.reqMatchingSymbolsAsync("AA")
        assert found is not None
        assert found[0].contract is not None
        assert found[0].contract.symbol == "AAPL"
        by_name = await ib.reqMatchingSymbolsAsync("micro")
        assert by_name is not None
        symbols = {description.contract.symbol for description in by_name if description.contract}
        assert {"MSFT", "AMD"} <= symbols
        assert await ib.reqMatchingSymbolsAsync("ZZZZZ") == []


async def test_a_user_file_extends_the_universe(tmp_path: Path) -> None:
    extra = tmp_path / "contracts.json"
    extra.write_text(
        json.dumps(
            [
                {
                    "con_id": 99000001,
                    "symbol": "ACME",
                    "primary_exchange": "NYSE",
                    "long_name": "ACME CORP",
                    "initial_price": 42.5,
                    "valid_exchanges": ["SMART", "NYSE"],
                }
            ]
        )
    )
    config = SimulatorConfig(
        start_time=TRADING_MORNING, port=0, tick_rate=0, contract_files=(extra,)
    )
    async with Simulator(config) as simulator, connected(simulator) as ib:
        [acme] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
        assert isinstance(acme, Contract)
        assert acme.conId == 99000001
        assert simulator.quote("ACME").last == 42.5
        underlyings = [contract for contract in simulator.universe if not contract.last_trade_date]
        assert len(underlyings) == len(ContractUniverse.load()) + 1
