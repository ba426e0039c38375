"""Market depth through ib_async: one reqMktDepth per contract, read back as a book of price
levels.

ib_async keeps each side of a contract's book as rows keyed by IB's position (wrapper.py
updateMktDepthL2: insert and update set the row, delete removes it), one Ticker per contract:
so it holds one book per contract, and the server asks for one. The rows are read after every
batch IB sends and summed per price (the aggregated book has one row per exchange and price).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from ib_async import IB, Contract, DOMLevel, Ticker

from ibkr_grpc.broker.held_subscriptions import HeldSubscriptions
from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.subscription_answers import GatewayClock, not_connected
from ibkr_grpc.broker.translation import decimal_of, ib_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError
from ibkr_grpc.domain.live_data import SMART, DepthBook, DepthLevel, DepthRequest, DepthVenue

# The rows a side the server asks IB for; streams take the best of them. IB: "in case the
# market depth is smaller than the requested number of rows, the TWS will simply return the
# available entries" (https://interactivebrokers.github.io/tws-api/market_depth.html).
DEPTH_ROWS = 20
BookListener = Callable[[int, DepthBook], None]
FailureListener = Callable[[int, ServiceError], None]


@dataclass(frozen=True, slots=True)
class _Held:
    request: DepthRequest
    contract: Contract
    ticker: Ticker
    request_id: int

    @property
    def smart(self) -> bool:
        return self.request.venue == SMART

    @property
    def contract_spec(self) -> ContractSpec:
        return self.request.contract


class MarketDepthReader:
    def __init__(
        self,
        ib: IB,
        limiter: RequestLimiter,
        *,
        clock: Callable[[], datetime],
        gateway_clock: GatewayClock,
        request_timeout: float,
    ) -> None:
        self._ib = ib
        self._limiter = limiter
        self._clock = clock
        # By con_id: one book per contract.
        self._held: HeldSubscriptions[int, _Held] = HeldSubscriptions(
            gateway_clock, request_timeout=request_timeout
        )
        self._book_listeners: list[BookListener] = []
        ib.pendingTickersEvent += self._on_tickers
        ib.errorEvent += self._on_error

    def add_book_listener(self, listener: BookListener) -> None:
        self._book_listeners.append(listener)

    def add_failure_listener(self, listener: FailureListener) -> None:
        self._held.add_failure_listener(listener)

    @property
    def subscriptions(self) -> int:
        return len(self._held)

    async def start(self, request: DepthRequest) -> None:
        """Subscribe (or, after a reconnect, subscribe again) to a qualified contract's book;
        returns once IB accepted it, raises what IB refused it with."""
        await self._limiter.acquire("market_depth")
        if not self._ib.isConnected():
            raise not_connected()
        contract = ib_contract(replace(request.contract, exchange=request.venue))
        smart = request.venue == SMART
        ticker = self._ib.reqMktDepth(contract, numRows=DEPTH_ROWS, isSmartDepth=smart)
        request_id = self._ib.wrapper.ticker2ReqId["mktDepth"][ticker]
        held = _Held(request, contract, ticker, request_id)
        await self._held.hold(request.contract.con_id, held)

    async def stop(self, request: DepthRequest) -> None:
        held = self._held.forget(request.contract.con_id)
        if held is not None and self._ib.isConnected():
            await self._limiter.acquire("cancel_market_depth")
            self._ib.cancelMktDepth(held.contract, isSmartDepth=held.smart)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        for ticker in tickers:
            if not ticker.domTicks or ticker.contract is None:
                continue
            held = self._held.get(ticker.contract.conId)
            if held is None or held.ticker is not ticker:
                continue
            book = DepthBook(
                bids=_levels(ticker.domBids, best_first_descending=True),
                asks=_levels(ticker.domAsks, best_first_descending=False),
                receive_time=(ticker.time or self._clock()).astimezone(UTC),
            )
            self._held.data(held)
            for listener in tuple(self._book_listeners):
                listener(held.request.contract.con_id, book)

    def _on_error(
        self, request_id: int, code: int, message: str, _contract: Contract | None
    ) -> None:
        self._held.on_error(request_id, code, message)


def _levels(rows: list[DOMLevel], *, best_first_descending: bool) -> tuple[DepthLevel, ...]:
    """IB's rows summed per price, best price first; each price's venues, largest first."""
    sizes: dict[Decimal, dict[str, Decimal]] = {}
    for row in rows:
        price, size = decimal_of(row.price), decimal_of(row.size)
        if price is None or size is None or size <= 0:
            continue
        venues = sizes.setdefault(price, {})
        venues[row.marketMaker] = venues.get(row.marketMaker, Decimal(0)) + size
    levels = []
    for price in sorted(sizes, reverse=best_first_descending):
        venues = sizes[price]
        shares = tuple(
            DepthVenue(venue, size)
            for venue, size in sorted(venues.items(), key=lambda item: (-item[1], item[0]))
            if venue
        )
        levels.append(DepthLevel(price, sum(venues.values(), Decimal(0)), shares))
    return tuple(levels)
