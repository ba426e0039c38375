"""Builders for market-data messages: ticks, tick-by-tick, and historical bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ibkr_simulator.outgoing import Message, OutgoingId, whole


class TickType:
    """Tick type ids; delayed data uses the live id plus DELAYED_OFFSET for prices and sizes."""

    BID_SIZE = 0
    BID = 1
    ASK = 2
    ASK_SIZE = 3
    LAST = 4
    LAST_SIZE = 5
    HIGH = 6
    LOW = 7
    VOLUME = 8
    CLOSE = 9
    OPEN = 14
    # Option computations: implied volatility and greeks at the bid, ask, last and model price.
    BID_OPTION_COMPUTATION = 10
    ASK_OPTION_COMPUTATION = 11
    LAST_OPTION_COMPUTATION = 12
    MODEL_OPTION_COMPUTATION = 13
    LAST_TIMESTAMP = 45
    RT_VOLUME = 48


# Live tick type -> delayed tick type (reqMarketDataType 3 or 4).
DELAYED_TICK_TYPES = {
    TickType.BID: 66,
    TickType.ASK: 67,
    TickType.LAST: 68,
    TickType.BID_SIZE: 69,
    TickType.ASK_SIZE: 70,
    TickType.LAST_SIZE: 71,
    TickType.HIGH: 72,
    TickType.LOW: 73,
    TickType.VOLUME: 74,
    TickType.CLOSE: 75,
    TickType.OPEN: 76,
    TickType.LAST_TIMESTAMP: 88,
    TickType.BID_OPTION_COMPUTATION: 80,
    TickType.ASK_OPTION_COMPUTATION: 81,
    TickType.LAST_OPTION_COMPUTATION: 82,
    TickType.MODEL_OPTION_COMPUTATION: 83,
}

# tickOptionComputation's message id, and IB's "not computed" values for its fields.
OPTION_COMPUTATION = 21
NOT_COMPUTED_PRICE = -1.0
NOT_COMPUTED_GREEK = -2.0
# tickAttrib: 0 return-based, 1 price-based (IB's EWrapper.tickOptionComputation).
RETURN_BASED = 0


def tick_price(request_id: int, tick_type: int, price: float, size: float) -> Message:
    # The attribute mask (canAutoExecute, pastLimit, preOpen) is 0 for simulated quotes.
    return [OutgoingId.TICK_PRICE, 6, request_id, tick_type, price, whole(size), 0]


def tick_size(request_id: int, tick_type: int, size: float) -> Message:
    return [OutgoingId.TICK_SIZE, 6, request_id, tick_type, whole(size)]


def tick_string(request_id: int, tick_type: int, value: str) -> Message:
    return [OutgoingId.TICK_STRING, 6, request_id, tick_type, value]


def tick_request_parameters(request_id: int, min_tick: float, bbo_exchange: str) -> Message:
    return [OutgoingId.TICK_REQUEST_PARAMETERS, request_id, min_tick, bbo_exchange, 3]


def market_data_type(request_id: int, data_type: int) -> Message:
    return [OutgoingId.MARKET_DATA_TYPE, 1, request_id, data_type]


def tick_snapshot_end(request_id: int) -> Message:
    return [OutgoingId.TICK_SNAPSHOT_END, 1, request_id]


def tick_by_tick_trade(
    request_id: int, kind: int, epoch: int, price: float, size: float, exchange: str
) -> Message:
    return [OutgoingId.TICK_BY_TICK, request_id, kind, epoch, price, whole(size), 0, exchange, ""]


def tick_by_tick_bid_ask(
    request_id: int, epoch: int, bid: float, ask: float, bid_size: float, ask_size: float
) -> Message:
    return [
        OutgoingId.TICK_BY_TICK,
        request_id,
        3,
        epoch,
        bid,
        ask,
        whole(bid_size),
        whole(ask_size),
        0,
    ]


def tick_by_tick_midpoint(request_id: int, epoch: int, midpoint: float) -> Message:
    return [OutgoingId.TICK_BY_TICK, request_id, 4, epoch, midpoint]


@dataclass(frozen=True)
class Bar:
    """One historical bar; `date` is already in the request's date format."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    average: float
    count: int


def historical_data(request_id: int, start: str, end: str, bars: Sequence[Bar]) -> Message:
    fields: Message = [OutgoingId.HISTORICAL_DATA, request_id, start, end, len(bars)]
    for bar in bars:
        fields += [
            bar.date,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            whole(bar.volume),
            bar.average,
            bar.count,
        ]
    return fields


def historical_data_update(request_id: int, bar: Bar) -> Message:
    # Note IB's order here: open, close, high, low, wap, volume.
    return [
        OutgoingId.HISTORICAL_DATA_UPDATE,
        request_id,
        bar.count,
        bar.date,
        bar.open,
        bar.close,
        bar.high,
        bar.low,
        bar.average,
        whole(bar.volume),
    ]


def real_time_bar(
    request_id: int,
    start_epoch: int,
    prices: tuple[float, float, float, float],
    volume: float,
    average: float,
    count: int,
) -> Message:
    """One five-second bar; `prices` is (open, high, low, close)."""
    return [
        OutgoingId.REAL_TIME_BARS,
        3,
        request_id,
        start_epoch,
        *prices,
        whole(volume),
        average,
        count,
    ]


def head_timestamp(request_id: int, timestamp: str) -> Message:
    return [OutgoingId.HEAD_TIMESTAMP, request_id, timestamp]


# securityDefinitionOptionParameter and its End (ibapi decoder: message id then request id, no
# version).
OPTION_PARAMETERS = 75
OPTION_PARAMETERS_END = 76


@dataclass(frozen=True)
class OptionComputation:
    """tickOptionComputation's fields after the tick type; None is IB's "not computed"."""

    implied_volatility: float | None
    delta: float | None
    option_price: float | None
    present_value_dividend: float | None
    gamma: float | None
    vega: float | None
    theta: float | None
    underlying_price: float | None


def tick_option_computation(
    request_id: int, tick_type: int, computation: OptionComputation
) -> Message:
    """From server version 156 (MIN_SERVER_VER_PRICE_BASED_VOLATILITY) the message has no
    version field and carries tickAttrib after the tick type; ib_async's decoder reads
    `_, reqId, tickType, tickAttrib, impliedVol, delta, optPrice, pvDividend, gamma, vega,
    theta, undPrice` (decoder.py tickOptionComputation)."""

    def price(value: float | None) -> float:
        return NOT_COMPUTED_PRICE if value is None else round(value, 6)

    def greek(value: float | None) -> float:
        return NOT_COMPUTED_GREEK if value is None else round(value, 6)

    return [
        OPTION_COMPUTATION,
        request_id,
        tick_type,
        RETURN_BASED,
        price(computation.implied_volatility),
        greek(computation.delta),
        price(computation.option_price),
        price(computation.present_value_dividend),
        greek(computation.gamma),
        greek(computation.vega),
        greek(computation.theta),
        price(computation.underlying_price),
    ]


def option_parameters(
    request_id: int,
    exchange: str,
    underlying_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> Message:
    """securityDefinitionOptionParameter: one exchange and trading class of a chain."""
    return [
        OPTION_PARAMETERS,
        request_id,
        exchange,
        underlying_con_id,
        trading_class,
        multiplier,
        len(expirations),
        *expirations,
        len(strikes),
        *strikes,
    ]


def option_parameters_end(request_id: int) -> Message:
    return [OPTION_PARAMETERS_END, request_id]
