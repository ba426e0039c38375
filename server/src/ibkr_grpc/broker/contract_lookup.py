"""Contract lookups through ib_async: qualifying a description to one contract (stocks, forex,
options, futures and futures options alike), option chains, and the options of an expiration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from ib_async import IB
from ib_async import ContractDetails as IbContractDetails
from ib_async.wrapper import RequestError

from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.translation import SECURITY_TYPES, contract_spec, decimal_of, ib_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import SecurityType
from ibkr_grpc.domain.errors import (
    BrokerTimeoutError,
    GatewayUnavailableError,
    InvalidContractError,
)
from ibkr_grpc.domain.options import OptionChain

T = TypeVar("T")
# Choices an ambiguity error lists.
_SHOWN_CHOICES = 5


class ContractLookup:
    def __init__(self, ib: IB, limiter: RequestLimiter, *, request_timeout: float) -> None:
        self._ib = ib
        self._limiter = limiter
        self._timeout = request_timeout

    async def qualify(self, contract: ContractSpec) -> ContractSpec:
        """The one contract IB knows for the description, with its con_id. The exchange asked
        for is kept (SMART stays SMART, as ib_async's qualifyContracts keeps it); an empty one
        (a future's, by default) becomes the listing exchange IB reports."""
        found = await self._details(contract, "contract_details")
        if contract.con_id == 0 and len(found) > 1:
            # IB answers some requests with contracts of other types too (event contracts
            # with futures options): ib_async's qualifyContractsAsync keeps those of the
            # requested secType.
            wanted = SECURITY_TYPES[contract.security_type]
            found = [item for item in found if _ib_type(item) == wanted] or found
        if not found:
            raise InvalidContractError(
                f"IB knows no contract {contract.display_name}",
                metadata={"symbol": contract.symbol},
            )
        if len(found) > 1:
            raise _ambiguous(contract, found)
        assert found[0].contract is not None  # noqa: S101  filtered by _details
        resolved = contract_spec(found[0].contract)
        return replace(resolved, exchange=contract.exchange or resolved.exchange)

    async def option_chains(self, underlying: ContractSpec) -> list[OptionChain]:
        """IB's option chains of a qualified underlying: one per exchange and trading class. For
        a future, IB wants the future's exchange as futFopExchange; for a stock, none
        (https://interactivebrokers.github.io/tws-api/options.html)."""
        future = underlying.security_type is SecurityType.FUTURE
        await self._limiter.acquire("option_chains")
        rows = await self._answer(
            self._ib.reqSecDefOptParamsAsync(
                underlying.symbol,
                underlying.exchange if future else "",
                SECURITY_TYPES[underlying.security_type],
                underlying.con_id,
            ),
            underlying,
            "the option chain request",
        )
        chains = [
            OptionChain(
                exchange=row.exchange,
                trading_class=row.tradingClass,
                multiplier=row.multiplier,
                expirations=tuple(sorted(row.expirations)),
                strikes=tuple(sorted(_strikes(row.strikes))),
                underlying_con_id=int(row.underlyingConId),
            )
            for row in rows
        ]
        return sorted(chains, key=lambda chain: (chain.exchange, chain.trading_class))

    async def options(self, query: ContractSpec, underlying_con_id: int) -> list[ContractSpec]:
        """Every option the query (an option without strike and right) names whose underlying
        is `underlying_con_id`: one contract-details request for a whole expiration."""
        found = await self._details(query, "contract_details")
        return [
            contract_spec(item.contract)
            for item in found
            if item.contract is not None
            and _ib_type(item) == SECURITY_TYPES[query.security_type]
            and item.underConId in {0, underlying_con_id}
        ]

    async def _details(self, contract: ContractSpec, kind: str) -> list[IbContractDetails]:
        await self._limiter.acquire(kind)
        found = await self._answer(
            self._ib.reqContractDetailsAsync(ib_contract(contract)),
            contract,
            "the contract lookup",
        )
        return [item for item in found if item.contract is not None]

    async def _answer(self, request: Awaitable[T], contract: ContractSpec, what: str) -> T:
        if not self._ib.isConnected():
            raise GatewayUnavailableError(
                "not connected to IB Gateway", retry_after=timedelta(seconds=2)
            )
        try:
            # ib_async's *Async requests ignore its RequestTimeout: bound them here.
            async with asyncio.timeout(self._timeout):
                return await request
        except RequestError as error:
            raise InvalidContractError(
                f"IB knows no contract {contract.display_name}: {error.message}",
                metadata={"ib_error_code": str(error.code), "symbol": contract.symbol},
            ) from error
        except TimeoutError as error:
            message = f"IB did not answer {what} in time"
            raise BrokerTimeoutError(message) from error


def _ib_type(item: IbContractDetails) -> str:
    return item.contract.secType if item.contract is not None else ""


def _strikes(values: list[float]) -> set[Decimal]:
    return {strike for strike in map(decimal_of, values) if strike is not None}


def _ambiguous(contract: ContractSpec, found: list[IbContractDetails]) -> InvalidContractError:
    """Which fields tell the candidates apart, so the caller knows what to add."""
    candidates = [contract_spec(item.contract) for item in found if item.contract is not None]
    if contract.security_type.is_option or contract.security_type.is_future:
        choices = ", ".join(
            f"{choice.local_symbol or choice.symbol} (con_id {choice.con_id})"
            for choice in candidates[:_SHOWN_CHOICES]
        )
        hint = (
            "give last_trade_date_or_contract_month, strike and right, or local_symbol or con_id"
            if contract.security_type.is_option
            else "give last_trade_date_or_contract_month, or local_symbol or con_id"
        )
    else:
        choices = ", ".join(
            f"{choice.primary_exchange or choice.exchange} (con_id {choice.con_id})"
            for choice in candidates[:_SHOWN_CHOICES]
        )
        hint = "give con_id or primary_exchange"
    more = (
        f" and {len(candidates) - _SHOWN_CHOICES} more" if len(candidates) > _SHOWN_CHOICES else ""
    )
    return InvalidContractError(
        f"{contract.display_name} is ambiguous: {choices}{more}; {hint}",
        metadata={"symbol": contract.symbol, "matches": str(len(candidates))},
    )
