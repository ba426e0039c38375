"""The contract universe: instruments loaded from JSON files, looked up the way IB resolves them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ibkr_simulator.trading_calendar import NEW_YORK
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
    # Futures and options: the last trading day (YYYYMMDD), the contract month (YYYYMM), the
    # multiplier as IB writes it ("50", "100"), and the underlying.
    last_trade_date: str = ""
    contract_month: str = ""
    strike: float = 0.0
    # "C" or "P" for options.
    right: str = ""
    multiplier: str = ""
    underlying_con_id: int = 0
    underlying_symbol: str = ""
    underlying_sec_type: str = ""

    @property
    def is_forex(self) -> bool:
        return self.sec_type == "CASH"

    @property
    def is_option(self) -> bool:
        return self.sec_type in OPTION_TYPES

    @property
    def is_future(self) -> bool:
        return self.sec_type == "FUT"

    @property
    def value_multiplier(self) -> float:
        """What one unit of price is worth per contract: 100 for a stock option, 50 for ES."""
        return float(self.multiplier) if self.multiplier else 1.0

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


# Lists the derivatives of the loaded underlyings (see listings.list_derivatives).
DerivativeListing = Callable[[Sequence[ContractSpec]], Iterable[ContractSpec]]


class ContractUniverse:
    """Every instrument the simulated gateway knows, indexed by conId and by symbol.

    With a clock, futures and options past their expiry are found only by requests that
    include expired contracts, as at IB.
    """

    def __init__(
        self,
        contracts: Iterable[ContractSpec],
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._by_con_id: dict[int, ContractSpec] = {}
        for contract in contracts:
            self._by_con_id[contract.con_id] = contract
        self._by_name: dict[str, list[ContractSpec]] = {}
        for contract in self._by_con_id.values():
            symbol = contract.symbol.upper()
            self._by_name.setdefault(symbol, []).append(contract)
            local_symbol = contract.local_symbol.upper()
            if local_symbol != symbol:
                self._by_name.setdefault(local_symbol, []).append(contract)
        self._clock = clock

    @classmethod
    def load(
        cls,
        extra_files: Sequence[Path] = (),
        *,
        derivatives: DerivativeListing | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> ContractUniverse:
        """The bundled universe, extended (or overridden by conId) by each extra file in order,
        plus the futures and options `derivatives` lists for it."""
        bundled = resources.files("ibkr_simulator").joinpath("data/contracts.json").read_text()
        entries = list(_entries(json.loads(bundled)))
        for path in extra_files:
            entries.extend(_entries(json.loads(path.read_text())))
        loaded = {spec.con_id: spec for spec in map(ContractSpec.from_json, entries)}
        listed = list(derivatives(list(loaded.values()))) if derivatives is not None else []
        return cls([*loaded.values(), *listed], clock)

    def __iter__(self) -> Iterator[ContractSpec]:
        return iter(self._by_con_id.values())

    def __len__(self) -> int:
        return len(self._by_con_id)

    def by_con_id(self, con_id: int) -> ContractSpec | None:
        return self._by_con_id.get(con_id)

    def by_symbol(self, symbol: str) -> ContractSpec | None:
        """The instrument a symbol or local symbol names: the stock before its options."""
        candidates = self._by_name.get(symbol.upper(), [])
        exact = [contract for contract in candidates if contract.local_symbol == symbol]
        found = exact or candidates
        return found[0] if found else None

    def is_expired(self, contract: ContractSpec) -> bool:
        return (
            self._clock is not None
            and bool(contract.last_trade_date)
            and expires_at(contract.last_trade_date) <= self._clock()
        )

    def resolve(self, query: ContractQuery, *, include_expired: bool = False) -> list[ContractSpec]:
        """All instruments matching a request, as IB would answer reqContractDetails; a
        continuous future (CONTFUT) is its front month, reported as CONTFUT."""
        if query.sec_type == "CONTFUT":
            front = self.front_month(query)
            return [] if front is None else [replace(front, sec_type="CONTFUT")]
        if query.con_id > 0:
            found = self._by_con_id.get(query.con_id)
            if found is None or not _exchange_allowed(found, query):
                return []
            return [] if self.is_expired(found) and not include_expired else [found]
        names = query.symbol or query.local_symbol
        return [
            contract
            for contract in self._by_name.get(names.upper(), [])
            if _matches(contract, query) and (include_expired or not self.is_expired(contract))
        ]

    def resolve_one(self, query: ContractQuery, *, continuous: bool = False) -> ContractSpec | None:
        """The single instrument a market-data or order request names, or None if unknown or
        ambiguous. A continuous future names its front month only where IB accepts one
        (`continuous`: historical data); IB: "Continuous futures cannot be used with real time
        data or to place orders" (quoted in github.com/erdewit/ib_insync/issues/263)."""
        if query.sec_type == "CONTFUT":
            return self.front_month(query) if continuous else None
        matches = self.resolve(query)
        return matches[0] if len(matches) == 1 else None

    def front_month(self, query: ContractQuery) -> ContractSpec | None:
        """The unexpired future of the query's symbol that expires first."""
        futures = self.resolve(replace(query, sec_type="FUT", con_id=0, last_trade_date=""))
        futures.sort(key=lambda contract: contract.last_trade_date)
        return futures[0] if futures else None

    def listed_options(self, underlying_con_id: int) -> list[ContractSpec]:
        """The unexpired options whose underlying is `underlying_con_id`."""
        underlying = self._by_con_id.get(underlying_con_id)
        if underlying is None:
            return []
        return [
            contract
            for contract in self._by_name.get(underlying.symbol.upper(), [])
            if contract.is_option
            and contract.underlying_con_id == underlying_con_id
            and not self.is_expired(contract)
        ]

    def search(self, pattern: str) -> list[ContractSpec]:
        """Symbol search over the underlyings: symbols starting with the pattern first, then
        names containing it (IB's reqMatchingSymbols lists derivatives as types, not rows)."""
        wanted = pattern.strip().upper()
        if not wanted:
            return []
        underlyings = [c for c in self._by_con_id.values() if not c.last_trade_date]
        by_symbol = [c for c in underlyings if c.symbol.upper().startswith(wanted)]
        by_name = [c for c in underlyings if wanted in c.long_name.upper() and c not in by_symbol]
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


def _names_match(contract: ContractSpec, query: ContractQuery) -> bool:
    if query.symbol:
        names = {contract.symbol.upper(), contract.local_symbol.upper()}
        return query.symbol.upper() in names
    return bool(query.local_symbol) and query.local_symbol.upper() == contract.local_symbol.upper()


def _matches(contract: ContractSpec, query: ContractQuery) -> bool:
    if not _names_match(contract, query) or not _derivative_terms_match(contract, query):
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


# Security types whose contracts carry a strike and a right.
OPTION_TYPES = frozenset({"OPT", "FOP"})
RIGHTS = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}


def expires_at(last_trade_date: str) -> dt.datetime:
    """The regular close (16:00 New York) of a contract's last trading day."""
    day = dt.datetime.strptime(last_trade_date[:8], "%Y%m%d").date()  # noqa: DTZ007  a date
    return dt.datetime.combine(day, dt.time(16), NEW_YORK).astimezone(dt.UTC)


def _derivative_terms_match(contract: ContractSpec, query: ContractQuery) -> bool:
    """Expiry, strike, right, multiplier and trading class: each one the query gives must match.

    An expiry of six digits is a contract month and matches every expiry in it (IB answers
    an option request for '201902' with all of February's expiries:
    github.com/erdewit/ib_insync/issues/122).
    """
    expiry = query.last_trade_date.strip()
    if expiry:
        month_only = len(expiry) == 6
        actual = contract.contract_month if month_only else contract.last_trade_date
        if expiry[:8] != actual:
            return False
    if query.strike and abs(query.strike - contract.strike) > 1e-6:
        return False
    right = RIGHTS.get(query.right.upper(), query.right.upper()) if query.right else ""
    if right and right != contract.right:
        return False
    if query.multiplier and contract.multiplier:
        try:
            if float(query.multiplier) != contract.value_multiplier:
                return False
        except ValueError:
            return False
    return not (
        query.trading_class and query.trading_class.upper() != contract.trading_class.upper()
    )
