"""reqSecDefOptParams: the option chains of an underlying, one row per exchange and trading class.

IB answers with one securityDefinitionOptionParameter per exchange the options trade on and
per trading class, each with the multiplier, the set of expirations and the set of strikes,
then securityDefinitionOptionParameterEnd
(https://interactivebrokers.github.io/tws-api/options.html; ib_async's own option chain
notebook picks a row by `c.tradingClass == 'SPX' and c.exchange == 'SMART'`). An empty
futFopExchange asks for every exchange; a named one keeps only its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibkr_simulator.contracts import ContractQuery, ContractSpec, ContractUniverse


@dataclass(frozen=True)
class ChainRequest:
    """The four fields of reqSecDefOptParams after the request id."""

    underlying_symbol: str
    exchange: str
    underlying_sec_type: str
    underlying_con_id: int


@dataclass(frozen=True)
class OptionChain:
    """One row of the answer."""

    exchange: str
    underlying_con_id: int
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]
    strikes: tuple[float, ...]


def _underlying(universe: ContractUniverse, request: ChainRequest) -> ContractSpec | None:
    if request.underlying_con_id > 0:
        return universe.by_con_id(request.underlying_con_id)
    query = ContractQuery(
        0,
        request.underlying_symbol,
        request.underlying_sec_type,
        "",
        None,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    )
    return universe.resolve_one(query)


def option_chains(universe: ContractUniverse, request: ChainRequest) -> list[OptionChain]:
    """Every row IB would send for the request; none for an underlying without options."""
    underlying = _underlying(universe, request)
    if underlying is None:
        return []
    if request.underlying_symbol and request.underlying_symbol.upper() != underlying.symbol:
        return []
    wanted_exchange = request.exchange.strip().upper()
    rows: dict[tuple[str, str, str], tuple[set[str], set[float]]] = {}
    for option in universe.listed_options(underlying.con_id):
        for exchange in option.valid_exchanges:
            if wanted_exchange and exchange != wanted_exchange:
                continue
            key = (exchange, option.trading_class, option.multiplier)
            expirations, strikes = rows.setdefault(key, (set(), set()))
            expirations.add(option.last_trade_date)
            strikes.add(option.strike)
    return [
        OptionChain(
            exchange=exchange,
            underlying_con_id=underlying.con_id,
            trading_class=trading_class,
            multiplier=multiplier,
            expirations=tuple(sorted(expirations)),
            strikes=tuple(sorted(strikes)),
        )
        for (exchange, trading_class, multiplier), (expirations, strikes) in sorted(rows.items())
    ]
