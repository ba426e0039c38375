"""Tick-by-tick data through ib_async: one reqTickByTickData per contract and tick type.

ib_async keeps a contract's ticks of every type on its one Ticker (ticker.tickByTicks, emptied
at each socket read); a trade's tickType says whether it came for Last (1) or AllLast (2), the
bid/ask and midpoint ticks have types of their own. Each tick's time is when ib_async read it
(wrapper.py tickByTick*: IB's own time, whole seconds, is not kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from ib_async import (
    IB,
    Contract,
    TickByTickAllLast,
    TickByTickBidAsk,
    TickByTickMidPoint,
    Ticker,
)

from ibkr_grpc.broker.held_subscriptions import HeldSubscriptions
from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.subscription_answers import GatewayClock, not_connected
from ibkr_grpc.broker.translation import decimal_of, ib_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.errors import ServiceError
from ibkr_grpc.domain.live_data import BidAskTick, MidpointTick, Tick, TickType, TradeTick

TickKey = tuple[int, TickType]
TickListener = Callable[[TickKey, Tick], None]
FailureListener = Callable[[TickKey, ServiceError], None]
# tickByTickAllLast's tickType: "1: Last or 2: AllLast" (EWrapper.tickByTickAllLast).
_TRADE_TYPES = {1: TickType.LAST, 2: TickType.ALL_LAST}


@dataclass(frozen=True, slots=True)
class _Held:
    contract_spec: ContractSpec
    contract: Contract
    ticker: Ticker
    request_id: int


class TickByTickReader:
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
        self._held: HeldSubscriptions[TickKey, _Held] = HeldSubscriptions(
            gateway_clock, request_timeout=request_timeout
        )
        self._tick_listeners: list[TickListener] = []
        ib.pendingTickersEvent += self._on_tickers
        ib.errorEvent += self._on_error

    def add_tick_listener(self, listener: TickListener) -> None:
        self._tick_listeners.append(listener)

    def add_failure_listener(self, listener: FailureListener) -> None:
        self._held.add_failure_listener(listener)

    @property
    def subscriptions(self) -> int:
        return len(self._held)

    async def start(self, contract: ContractSpec, tick_type: TickType) -> None:
        """Subscribe (again, after a reconnect) to a qualified contract's ticks of one type;
        returns once IB accepted it, raises what IB refused it with."""
        await self._limiter.acquire("tick_by_tick")
        if not self._ib.isConnected():
            raise not_connected()
        ib_request = ib_contract(contract)
        ticker = self._ib.reqTickByTickData(ib_request, tick_type.value)
        request_id = self._ib.wrapper.ticker2ReqId[tick_type.value][ticker]
        held = _Held(contract, ib_request, ticker, request_id)
        await self._held.hold((contract.con_id, tick_type), held)

    async def stop(self, contract: ContractSpec, tick_type: TickType) -> None:
        held = self._held.forget((contract.con_id, tick_type))
        if held is not None and self._ib.isConnected():
            await self._limiter.acquire("cancel_tick_by_tick")
            self._ib.cancelTickByTickData(held.contract, tick_type.value)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        for ticker in tickers:
            if not ticker.tickByTicks or ticker.contract is None:
                continue
            con_id = ticker.contract.conId
            for raw in ticker.tickByTicks:
                tick_type, tick = _tick(raw)
                held = self._held.get((con_id, tick_type))
                if held is None or held.ticker is not ticker:
                    continue
                self._held.data(held)
                for listener in tuple(self._tick_listeners):
                    listener((con_id, tick_type), tick)

    def _on_error(
        self, request_id: int, code: int, message: str, _contract: Contract | None
    ) -> None:
        self._held.on_error(request_id, code, message)


def _time(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive(value: float) -> Decimal | None:
    number = decimal_of(value)
    return number if number is not None and number > 0 else None


def _tick(raw: TickByTickAllLast | TickByTickBidAsk | TickByTickMidPoint) -> tuple[TickType, Tick]:
    if isinstance(raw, TickByTickAllLast):
        attributes = raw.tickAttribLast
        return _TRADE_TYPES.get(raw.tickType, TickType.LAST), TradeTick(
            time=_time(raw.time),
            price=decimal_of(raw.price) or Decimal(0),
            size=decimal_of(raw.size) or Decimal(0),
            exchange=raw.exchange or "",
            special_conditions=raw.specialConditions or "",
            past_limit=bool(attributes and attributes.pastLimit),
            unreported=bool(attributes and attributes.unreported),
        )
    if isinstance(raw, TickByTickBidAsk):
        return TickType.BID_ASK, BidAskTick(
            time=_time(raw.time),
            bid_price=_positive(raw.bidPrice),
            bid_size=decimal_of(raw.bidSize),
            ask_price=_positive(raw.askPrice),
            ask_size=decimal_of(raw.askSize),
        )
    return TickType.MIDPOINT, MidpointTick(
        time=_time(raw.time), midpoint=decimal_of(raw.midPoint) or Decimal(0)
    )
