"""The contract universe: instruments loaded from JSON files, looked up the way IB resolves them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ibkr_simulator.wire import FieldReader

# IB answers a symbol search with at most this many descriptions.
MAXIMUM_SYMBOL_MATCHES = 16


@dataclass(frozen=True)
class ContractSpec:
    """One tradable instrument and the reference data IB reports for it."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    long_name: str
    min_tick: float
    initial_price: float
    annual_volatility: float
    valid_exchanges: tuple[str, ...]
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    stock_type: str = ""
    time_zone: str = "US/Eastern"

    @property
    def is_forex(self) -> bool:
        return self.sec_type == "CASH"

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ContractSpec:
        exchanges = tuple(str(name) for name in entry.get("valid_exchanges", ()))
        exchange = str(entry.get("exchange", "SMART"))
        return cls(
            con_id=int(entry["con_id"]),
            symbol=str(entry["symbol"]),
            sec_type=str(entry.get("sec_type", "STK")),
            exchange=exchange,
            primary_exchange=str(entry.get("primary_exchange", "")),
            currency=str(entry.get("currency", "USD")),
            local_symbol=str(entry.get("local_symbol", entry["symbol"])),
            trading_class=str(entry.get("trading_class", entry["symbol"])),
            long_name=str(entry.get("long_name", entry["symbol"])),
            min_tick=float(entry.get("min_tick", 0.01)),
            initial_price=float(entry["initial_price"]),
            annual_volatility=float(entry.get("annual_volatility", 0.25)),
            valid_exchanges=exchanges or (exchange,),
            industry=str(entry.get("industry", "")),
            category=str(entry.get("category", "")),
            subcategory=str(entry.get("subcategory", "")),
            stock_type=str(entry.get("stock_type", "")),
            time_zone=str(entry.get("time_zone", "US/Eastern")),
        )


@dataclass(frozen=True)
class ContractQuery:
    """The twelve contract fields a request carries (conId ... tradingClass)."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade_date: str
    strike: float | None
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def read(cls, reader: FieldReader, *, with_primary_exchange: bool = True) -> ContractQuery:
        con_id = reader.integer()
        symbol = reader.text()
        sec_type = reader.text()
        last_trade_date = reader.text()
        strike = reader.optional_decimal()
        right = reader.text()
        multiplier = reader.text()
        exchange = reader.text()
        primary_exchange = reader.text() if with_primary_exchange else ""
        currency = reader.text()
        local_symbol = reader.text()
        trading_class = reader.text()
        return cls(
            con_id,
            symbol,
            sec_type,
            last_trade_date,
            strike,
            right,
            multiplier,
            exchange,
            primary_exchange,
            currency,
            local_symbol,
            trading_class,
        )

    def describe(self) -> str:
        parts = [self.symbol or f"conId {self.con_id}", self.sec_type, self.exchange, self.currency]
        return " ".join(part for part in parts if part)


class ContractUniverse:
    """Every instrument the simulated gateway knows, indexed by conId and by symbol."""

    def __init__(self, contracts: Iterable[ContractSpec]) -> None:
        self._by_con_id: dict[int, ContractSpec] = {}
        for contract in contracts:
            self._by_con_id[contract.con_id] = contract

    @classmethod
    def load(cls, extra_files: Sequence[Path] = ()) -> ContractUniverse:
        """The bundled universe, extended (or overridden by conId) by each extra file in order."""
        bundled = resources.files("ibkr_simulator").joinpath("data/contracts.json").read_text()
        entries = list(_entries(json.loads(bundled)))
        for path in extra_files:
            entries.extend(_entries(json.loads(path.read_text())))
        return cls(ContractSpec.from_json(entry) for entry in entries)

    def __iter__(self) -> Iterator[ContractSpec]:
        return iter(self._by_con_id.values())

    def __len__(self) -> int:
        return len(self._by_con_id)

    def by_con_id(self, con_id: int) -> ContractSpec | None:
        return self._by_con_id.get(con_id)

    def by_symbol(self, symbol: str) -> ContractSpec | None:
        wanted = symbol.upper()
        for contract in self._by_con_id.values():
            if wanted in {contract.symbol.upper(), contract.local_symbol.upper()}:
                return contract
        return None

    def resolve(self, query: ContractQuery) -> list[ContractSpec]:
        """All instruments matching a request, as IB would answer reqContractDetails."""
        if query.con_id > 0:
            found = self._by_con_id.get(query.con_id)
            return [found] if found is not None and _exchange_allowed(found, query) else []
        return [contract for contract in self._by_con_id.values() if _matches(contract, query)]

    def resolve_one(self, query: ContractQuery) -> ContractSpec | None:
        """The single instrument a market-data or order request names, or None if unknown or ambiguous."""
        matches = self.resolve(query)
        return matches[0] if len(matches) == 1 else None

    def search(self, pattern: str) -> list[ContractSpec]:
        """Symbol search: symbols starting with the pattern first, then names containing it."""
        wanted = pattern.strip().upper()
        if not wanted:
            return []
        by_symbol = [c for c in self._by_con_id.values() if c.symbol.upper().startswith(wanted)]
        by_name = [
            c
            for c in self._by_con_id.values()
            if wanted in c.long_name.upper() and c not in by_symbol
        ]
        by_symbol.sort(key=lambda contract: (contract.symbol != wanted, contract.symbol))
        return (by_symbol + by_name)[:MAXIMUM_SYMBOL_MATCHES]


def _entries(document: Any) -> Iterator[dict[str, Any]]:
    entries = document.get("contracts", []) if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise TypeError("a contract file holds a list of contracts or {'contracts': [...]}")
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError("each contract is a JSON object")
        yield entry


def _exchange_allowed(contract: ContractSpec, query: ContractQuery) -> bool:
    return not query.exchange or query.exchange in contract.valid_exchanges


def _matches(contract: ContractSpec, query: ContractQuery) -> bool:
    if query.symbol:
        symbol = query.symbol.upper()
        names = {contract.symbol.upper(), contract.local_symbol.upper()}
        if symbol not in names:
            return False
    elif query.local_symbol:
        if query.local_symbol.upper() != contract.local_symbol.upper():
            return False
    else:
        return False
    checks = (
        (query.sec_type, contract.sec_type),
        (query.currency, contract.currency),
        (query.primary_exchange, contract.primary_exchange or query.primary_exchange),
    )
    if any(wanted and wanted.upper() != actual.upper() for wanted, actual in checks):
        return False
    if query.local_symbol and query.local_symbol.upper() != contract.local_symbol.upper():
        return False
    return _exchange_allowed(contract, query)
