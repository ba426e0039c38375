"""Market data through ib_async: contract lookup, streaming tickers, snapshots and bars."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from ib_async import IB, BarData, Contract, OptionComputation, Ticker
from ib_async import ContractDetails as IbContractDetails
from ib_async.wrapper import RequestError

from ibkr_grpc.broker import error_codes
from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.snapshots import snapshot_ticker
from ibkr_grpc.broker.translation import contract_spec, decimal_of, ib_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import SecurityType
from ibkr_grpc.domain.errors import (
    BrokerTimeoutError,
    GatewayUnavailableError,
    InvalidContractError,
    MarketDataError,
    MarketDataLineLimitError,
    PacingViolationError,
    ServiceError,
)
from ibkr_grpc.domain.market_data import (
    Bar,
    ContractDetails,
    ContractMatch,
    HistoryRequest,
    MarketDataKind,
    Quote,
    SubscriptionFailure,
)
from ibkr_grpc.domain.options import OptionGreeks

QuoteListener = Callable[[Quote], None]
# A one-off quote is taken once bid and ask arrived and IB then sent nothing more for this long
# (the rest of its ticks: sizes, last, volume, the day's range come in the same burst).
_SNAPSHOT_SETTLE = 0.2
# Generic tick 233, RTVolume: the last trade with its exchange time in milliseconds.
RT_VOLUME = "233"
FailureListener = Callable[[int, SubscriptionFailure], None]
_KINDS = {
    1: MarketDataKind.LIVE,
    2: MarketDataKind.FROZEN,
    3: MarketDataKind.DELAYED,
    4: MarketDataKind.DELAYED_FROZEN,
}


def broker_error(error: RequestError, contract: ContractSpec) -> ServiceError:
    """IB's answer to a failed market-data request, as a catalogue error."""
    metadata = {"ib_error_code": str(error.code), "symbol": contract.symbol}
    if error.code == error_codes.NO_SECURITY_DEFINITION:
        return InvalidContractError(
            f"IB knows no contract {contract.display_name}", metadata=metadata
        )
    if error.code in error_codes.PACING_VIOLATIONS:
        return PacingViolationError(f"IB pacing: {error.message}", metadata=metadata)
    if error.code == 101:
        return MarketDataLineLimitError(
            f"IB refused another market-data line: {error.message}", metadata=metadata
        )
    return MarketDataError(f"IB market data: {error.message}", metadata=metadata)


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


# IB's "not computed" in tickOptionComputation: -1 for the volatility and prices, -2 for the
# greeks (https://interactivebrokers.github.io/tws-api/option_computations.html). ib_async
# turns most into None, but passes vega and theta of -2 through unchanged (its wrapper.py
# tickOptionComputation writes `vega if vega != -2 else vega`), so every field is checked here.
_NOT_COMPUTED = {"volatility": -1.0, "price": -1.0, "greek": -2.0}


def _computed(value: float | None, kind: str) -> Decimal | None:
    if value is None or value == _NOT_COMPUTED[kind]:
        return None
    return decimal_of(value)


def option_greeks(ticker: Ticker) -> OptionGreeks | None:
    """The model's greeks (IB's tick 13, or 83 delayed) and the volatilities implied by the
    bid and the ask (ticks 10 and 11); None for a ticker with none of them (not an option)."""
    model: OptionComputation | None = ticker.modelGreeks
    bid: OptionComputation | None = ticker.bidGreeks
    ask: OptionComputation | None = ticker.askGreeks
    if model is None and bid is None and ask is None:
        return None

    def of_model(name: str, kind: str) -> Decimal | None:
        return _computed(getattr(model, name), kind) if model is not None else None

    return OptionGreeks(
        implied_volatility=of_model("impliedVol", "volatility"),
        delta=of_model("delta", "greek"),
        gamma=of_model("gamma", "greek"),
        vega=of_model("vega", "greek"),
        theta=of_model("theta", "greek"),
        underlying_price=of_model("undPrice", "price"),
        option_price=of_model("optPrice", "price"),
        bid_implied_volatility=_computed(bid.impliedVol, "volatility") if bid else None,
        ask_implied_volatility=_computed(ask.impliedVol, "volatility") if ask else None,
    )


class MarketDataReader:
    def __init__(
        self,
        ib: IB,
        limiter: RequestLimiter,
        *,
        clock: Callable[[], datetime],
        request_timeout: float,
    ) -> None:
        self._ib = ib
        self._limiter = limiter
        self._clock = clock
        self._timeout = request_timeout
        self._tickers: dict[int, Ticker] = {}
        self._quote_listeners: list[QuoteListener] = []
        self._failure_listeners: list[FailureListener] = []
        ib.pendingTickersEvent += self._on_tickers
        ib.errorEvent += self._on_error

    def add_quote_listener(self, listener: QuoteListener) -> None:
        self._quote_listeners.append(listener)

    def add_failure_listener(self, listener: FailureListener) -> None:
        self._failure_listeners.append(listener)

    async def search(self, query: str, limit: int) -> list[ContractMatch]:
        await self._limiter.acquire("symbol_search")
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._ib.reqMatchingSymbolsAsync(query)
        except TimeoutError as error:
            message = "IB did not answer the symbol search in time"
            raise BrokerTimeoutError(message) from error
        matches: list[ContractMatch] = []
        for description in found or []:
            if description.contract is None:
                continue
            contract = description.contract
            matches.append(
                ContractMatch(
                    contract=contract_spec(contract),
                    description=getattr(contract, "description", "") or "",
                    derivative_security_types=tuple(description.derivativeSecTypes),
                )
            )
        return matches[:limit]

    async def details(self, contract: ContractSpec) -> list[ContractDetails]:
        await self._limiter.acquire("contract_details")
        try:
            # ib_async's *Async requests ignore its RequestTimeout: bound them here.
            async with asyncio.timeout(self._timeout):
                found = await self._ib.reqContractDetailsAsync(ib_contract(contract))
        except RequestError as error:
            raise broker_error(error, contract) from error
        except TimeoutError as error:
            message = "IB did not answer the contract lookup in time"
            raise BrokerTimeoutError(message) from error
        details = [self._details(item) for item in found if item.contract is not None]
        if contract.security_type is SecurityType.CONTINUOUS_FUTURE:
            # IB answers a CONTFUT with the front month's conId and terms under secType
            # CONTFUT (github.com/erdewit/ib_insync/issues/263); it is returned as the future
            # it stands for, which can be quoted and traded as it is.
            return [
                replace(item, contract=replace(item.contract, security_type=SecurityType.FUTURE))
                for item in details
            ]
        return details

    def _details(self, item: IbContractDetails) -> ContractDetails:
        assert item.contract is not None  # noqa: S101  filtered by the caller
        return ContractDetails(
            contract=contract_spec(item.contract),
            long_name=item.longName,
            minimum_tick=decimal_of(item.minTick) or None,
            minimum_size=decimal_of(item.minSize) or None,
            size_increment=decimal_of(item.sizeIncrement) or None,
            order_types=tuple(filter(None, item.orderTypes.split(","))),
            valid_exchanges=tuple(filter(None, item.validExchanges.split(","))),
            time_zone=item.timeZoneId,
            trading_hours=item.tradingHours,
            liquid_hours=item.liquidHours,
            industry=item.industry,
            category=item.category,
            subcategory=item.subcategory,
            stock_type=item.stockType,
            market_name=item.marketName,
        )

    # ---- streaming -----------------------------------------------------------------------

    async def start(self, contract: ContractSpec) -> None:
        """Open (or reopen, after a reconnect) the market-data line of a qualified contract."""
        await self._limiter.acquire("market_data")
        self._tickers[contract.con_id] = self._ib.reqMktData(
            ib_contract(contract),
            genericTickList=RT_VOLUME,
            snapshot=False,
            regulatorySnapshot=False,
        )

    async def stop(self, contract: ContractSpec) -> None:
        ticker = self._tickers.pop(contract.con_id, None)
        if ticker is not None and ticker.contract is not None and self._ib.isConnected():
            await self._limiter.acquire("cancel_market_data")
            self._ib.cancelMktData(ticker.contract)

    def latest(self, con_id: int) -> Quote | None:
        ticker = self._tickers.get(con_id)
        return self._quote(ticker) if ticker is not None else None

    async def snapshot(self, contract: ContractSpec) -> Quote:
        await self._limiter.acquire("snapshot")
        if not self._ib.isConnected():
            raise GatewayUnavailableError(
                "not connected to IB Gateway", retry_after=timedelta(seconds=2)
            )
        try:
            ticker = await snapshot_ticker(
                self._ib, ib_contract(contract), within=self._timeout, settle=_SNAPSHOT_SETTLE
            )
        except RequestError as error:
            raise broker_error(error, contract) from error
        except TimeoutError as error:
            message = "IB did not answer the quote request in time"
            raise BrokerTimeoutError(message) from error
        except ConnectionError as error:
            raise GatewayUnavailableError(
                f"the connection to IB Gateway failed: {error}", retry_after=timedelta(seconds=2)
            ) from error
        return self._quote(ticker, contract)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        for ticker in tickers:
            if ticker.contract is None or ticker.contract.conId not in self._tickers:
                continue
            if ticker.domTicks and not ticker.ticks and not ticker.tickByTicks:
                continue  # only the contract's depth changed (ib_async's one Ticker holds both)
            quote = self._quote(ticker)
            for listener in tuple(self._quote_listeners):
                listener(quote)

    def _on_error(
        self, _request_id: int, code: int, message: str, contract: Contract | None
    ) -> None:
        if contract is None or contract.conId not in self._tickers:
            return
        if code in error_codes.MARKET_DATA_PROBLEMS or code == error_codes.NO_SECURITY_DEFINITION:
            failure = SubscriptionFailure(
                contract_spec(contract), "IB_MARKET_DATA_ERROR", f"IB {code}: {message}"
            )
            for listener in tuple(self._failure_listeners):
                listener(contract.conId, failure)

    def _quote(self, ticker: Ticker, contract: ContractSpec | None = None) -> Quote:
        spec = (
            contract or contract_spec(ticker.contract) if ticker.contract is not None else contract
        )
        assert spec is not None  # noqa: S101  tickers always carry their contract
        exchange_time = ticker.rtTime or ticker.lastTimestamp
        return Quote(
            contract=spec,
            receive_time=(ticker.time or self._clock()).astimezone(UTC),
            bid=decimal_of(_number(ticker.bid)) if ticker.bid != -1 else None,
            bid_size=decimal_of(_number(ticker.bidSize)),
            ask=decimal_of(_number(ticker.ask)) if ticker.ask != -1 else None,
            ask_size=decimal_of(_number(ticker.askSize)),
            last=decimal_of(_number(ticker.last)),
            last_size=decimal_of(_number(ticker.lastSize)),
            volume=decimal_of(_number(ticker.volume)),
            high=decimal_of(_number(ticker.high)),
            low=decimal_of(_number(ticker.low)),
            open=decimal_of(_number(ticker.open)),
            close=decimal_of(_number(ticker.close)),
            kind=_KINDS.get(ticker.marketDataType, MarketDataKind.LIVE),
            exchange_time=exchange_time.astimezone(UTC) if exchange_time else None,
            greeks=option_greeks(ticker),
        )

    # ---- history -------------------------------------------------------------------------

    async def bars(self, request: HistoryRequest) -> list[Bar]:
        end: datetime | str = request.end_time.astimezone(UTC) if request.end_time else ""
        await self._limiter.acquire("historical_data")
        try:
            found = await self._ib.reqHistoricalDataAsync(
                ib_contract(request.contract),
                endDateTime=end,
                durationStr=f"{request.span_count} {request.span_unit.value}",
                barSizeSetting=request.bar_size.value,
                whatToShow=request.source.value,
                useRTH=request.regular_trading_hours_only,
                formatDate=2,
                timeout=self._timeout,
            )
        except RequestError as error:
            raise broker_error(error, request.contract) from error
        return [bar_of(bar) for bar in found]


def bar_of(bar: BarData) -> Bar:
    """An IB bar (formatDate 2: start times in UTC; daily bars as dates) in the domain's terms."""
    start = bar.date
    if isinstance(start, datetime):
        moment = start if start.tzinfo else start.replace(tzinfo=UTC)
    else:
        moment = datetime.combine(start, time(), tzinfo=UTC)
    return Bar(
        start_time=moment.astimezone(UTC),
        open=_exact(bar.open),
        high=_exact(bar.high),
        low=_exact(bar.low),
        close=_exact(bar.close),
        volume=decimal_of(bar.volume) if bar.volume >= 0 else None,
        average_price=decimal_of(bar.average) if bar.average > 0 else None,
        trade_count=max(bar.barCount, 0),
    )


def _exact(value: float) -> Decimal:
    return decimal_of(value) or Decimal(0)
