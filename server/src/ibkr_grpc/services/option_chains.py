"""Option chains for callers: the chains IB lists on an underlying (kept for an hour), and chain
streams, the options of one expiration around the money, on the shared quote lines.

A chain stream costs one IB request for the chain and one for the expiration's options (both
kept), then one market-data line per option and one for the underlying, shared with every other
stream through MarketDataService. Its lines are opened nearest the money first, all or nothing:
a window that does not fit within the line limit is refused (RESOURCE_EXHAUSTED with a
QuotaFailure), as a StreamQuotes request is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight, SecurityType
from ibkr_grpc.domain.errors import FieldViolation, MarketDataError, ValidationError
from ibkr_grpc.domain.market_data import Quote
from ibkr_grpc.domain.options import (
    MAXIMUM_WINDOW_STRIKES,
    ChainStrike,
    ChainWindow,
    ChainWindowRequest,
    OptionChain,
    select_strikes,
)
from ibkr_grpc.services.market_data import MarketDataService, QuoteStreamItem
from ibkr_grpc.services.single_flight import SingleFlight

ChainStreamItem = ChainWindow | QuoteStreamItem
# Chains and an expiration's options change only with new listings: kept this long.
KEPT_SECONDS = 3600.0
KEPT_LOOKUPS = 1_000

T = TypeVar("T")


class OptionChainSource(Protocol):
    async def option_chains(self, underlying: ContractSpec) -> list[OptionChain]: ...
    async def options(self, query: ContractSpec, underlying_con_id: int) -> list[ContractSpec]: ...


@dataclass
class _Kept(Generic[T]):
    """Answers kept for a while, one lookup in flight per key."""

    clock: Callable[[], datetime]
    answers: dict[Hashable, tuple[datetime, T]]
    lookups: SingleFlight[T]

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        kept = self.answers.get(key)
        if kept is not None and self.clock() < kept[0]:
            return kept[1]

        async def fetched() -> T:
            answer = await fetch()
            if len(self.answers) >= KEPT_LOOKUPS:
                self.answers.clear()
            self.answers[key] = (self.clock() + timedelta(seconds=KEPT_SECONDS), answer)
            return answer

        return await self.lookups.run(key, fetched)


class OptionChainService:
    def __init__(
        self,
        source: OptionChainSource,
        market_data: MarketDataService,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._source = source
        self._market_data = market_data
        self._chains: _Kept[list[OptionChain]] = _Kept(clock, {}, SingleFlight())
        self._options: _Kept[list[ContractSpec]] = _Kept(clock, {}, SingleFlight())

    async def chains(
        self, underlying: ContractSpec, exchange: str = ""
    ) -> tuple[ContractSpec, list[OptionChain]]:
        """The qualified underlying and its chains (only `exchange`'s when given)."""
        qualified = await self._market_data.qualify(underlying)
        chains = await self._chains.get(
            qualified.con_id, lambda: self._source.option_chains(qualified)
        )
        if exchange:
            chains = [chain for chain in chains if chain.exchange == exchange]
        return qualified, chains

    async def window(self, request: ChainWindowRequest) -> ChainWindow:
        """The options a chain stream follows: the request's strikes of the expiration."""
        underlying, chains = await self.chains(request.underlying)
        chain = _pick_chain(underlying, chains, request)
        options = await self._expiration(underlying, chain, request.expiration)
        wanted = [
            option
            for option in options
            if option.strike is not None and request.right in {OptionRight.NONE, option.right}
        ]
        listed = sorted({option.strike for option in wanted if option.strike is not None})
        reference = at_the_money = None
        if request.strike_range is not None:
            low, high = request.strike_range.minimum, request.strike_range.maximum
            strikes = [strike for strike in listed if low <= strike <= high]
            _check_range(strikes, request.expiration)
        else:
            reference = _reference_price(await self._market_data.quote(underlying))
            at_the_money, strikes = select_strikes(listed, reference, request.strikes_per_side)
        rows = tuple(_row(strike, wanted) for strike in strikes)
        window = ChainWindow(
            underlying=underlying,
            expiration=request.expiration,
            exchange=chain.exchange,
            trading_class=chain.trading_class,
            multiplier=chain.multiplier,
            strikes=rows,
            reference_price=reference,
            at_the_money_strike=at_the_money if rows else None,
        )
        self._market_data.remember_qualified([underlying, *window.contracts_nearest_first()])
        return window

    async def stream(
        self, request: ChainWindowRequest, heartbeat: timedelta, *, batch: int = 1
    ) -> AsyncGenerator[ChainStreamItem]:
        """The window, then the quotes of its options and of the underlying as they change,
        with heartbeats and gateway markers (MarketDataService.stream)."""
        window = await self.window(request)
        contracts = [window.underlying, *window.contracts_nearest_first()]
        quotes = self._market_data.stream(contracts, heartbeat, batch=batch)
        async with aclosing(quotes) as items:
            # The lines open (all or nothing) before the first item comes: a window refused
            # for the line limit fails the call before the window is sent.
            first = await anext(items)
            yield window
            yield first
            async for item in items:
                yield item

    async def _expiration(
        self, underlying: ContractSpec, chain: OptionChain, expiration: str
    ) -> list[ContractSpec]:
        query = ContractSpec(
            symbol=underlying.symbol,
            security_type=SecurityType.FUTURE_OPTION
            if underlying.security_type is SecurityType.FUTURE
            else SecurityType.OPTION,
            exchange=chain.exchange,
            currency=underlying.currency,
            trading_class=chain.trading_class,
            last_trade_date_or_contract_month=expiration,
        )
        key = (underlying.con_id, chain.exchange, chain.trading_class, expiration)
        return await self._options.get(key, lambda: self._source.options(query, underlying.con_id))


def _pick_chain(
    underlying: ContractSpec, chains: list[OptionChain], request: ChainWindowRequest
) -> OptionChain:
    """The chain of the request's exchange (SMART for a stock's options, the future's own
    exchange for a future's) and trading class that lists the expiration."""
    exchange = request.exchange or (
        underlying.exchange if underlying.security_type is SecurityType.FUTURE else "SMART"
    )
    on_exchange = [chain for chain in chains if chain.exchange == exchange]
    if not on_exchange:
        listed = sorted({chain.exchange for chain in chains})
        raise ValidationError(
            [
                FieldViolation(
                    "exchange",
                    f"{underlying.symbol} has no options on {exchange}; "
                    f"listed on: {', '.join(listed) or 'none'}",
                )
            ]
        )
    if request.trading_class:
        on_exchange = [c for c in on_exchange if c.trading_class == request.trading_class]
    listing = [chain for chain in on_exchange if request.expiration in chain.expirations]
    if not listing:
        expirations = sorted({day for chain in on_exchange for day in chain.expirations})
        shown = ", ".join(expirations[:12]) + (" ..." if len(expirations) > 12 else "")
        raise ValidationError(
            [
                FieldViolation(
                    "expiration",
                    f"{underlying.symbol}'s options on {exchange} do not "
                    f"expire on {request.expiration}; they expire on {shown or 'none'}",
                )
            ]
        )
    if len(listing) > 1:
        own = [chain for chain in listing if chain.trading_class == underlying.symbol]
        if len(own) != 1:
            classes = ", ".join(chain.trading_class for chain in listing)
            raise ValidationError([FieldViolation("trading_class", f"give one of {classes}")])
        listing = own
    return listing[0]


def _check_range(strikes: list[Decimal], expiration: str) -> None:
    if not strikes:
        raise ValidationError(
            [FieldViolation("minimum_strike", f"no strike of {expiration} is in the range")]
        )
    if len(strikes) > MAXIMUM_WINDOW_STRIKES:
        raise ValidationError(
            [
                FieldViolation(
                    "maximum_strike",
                    f"the range holds {len(strikes)} listed strikes; at most "
                    f"{MAXIMUM_WINDOW_STRIKES} per stream",
                )
            ]
        )


def _reference_price(quote: Quote) -> Decimal:
    """The underlying's midpoint, else its last trade, else its previous close."""
    if quote.bid is not None and quote.ask is not None and quote.bid > 0 and quote.ask > 0:
        return (quote.bid + quote.ask) / 2
    for price in (quote.last, quote.close):
        if price is not None and price > 0:
            return price
    message = (
        f"IB has no price for {quote.contract.display_name} yet to centre the chain on: "
        "give minimum_strike and maximum_strike"
    )
    raise MarketDataError(message, retry_after=timedelta(seconds=2))


def _row(strike: Decimal, options: list[ContractSpec]) -> ChainStrike:
    at_strike = [option for option in options if option.strike == strike]
    call = next((o for o in at_strike if o.right is OptionRight.CALL), None)
    put = next((o for o in at_strike if o.right is OptionRight.PUT), None)
    return ChainStrike(strike=strike, call=call, put=put)
