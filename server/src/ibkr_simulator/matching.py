"""Pure matching rules: when an order triggers, and the worst price it accepts once it is active."""

from __future__ import annotations

from ibkr_simulator.order_model import LIMIT, MARKET, STOP, STOP_LIMIT, TRAIL, SimulatedOrder
from ibkr_simulator.prices import Quote, round_to_tick


def is_stop_type(order: SimulatedOrder) -> bool:
    return order.order_type in {STOP, STOP_LIMIT, TRAIL}


def update_trail(order: SimulatedOrder, quote: Quote) -> None:
    """Move a trailing stop with the market: it only ever tightens."""
    if order.order_type != TRAIL or order.triggered:
        return
    reference = quote.last
    if order.trail_extreme is None:
        order.trail_extreme = reference
    elif order.is_buy:
        order.trail_extreme = min(order.trail_extreme, reference)
    else:
        order.trail_extreme = max(order.trail_extreme, reference)
    if order.trailing_percent is not None:
        offset = order.trail_extreme * order.trailing_percent / 100
    else:
        offset = order.aux_price or 0.0
    candidate = order.trail_extreme + offset if order.is_buy else order.trail_extreme - offset
    candidate = round_to_tick(candidate, order.contract.min_tick)
    current = order.trail_stop_price
    if (
        current is None
        or (order.is_buy and candidate < current)
        or (not order.is_buy and candidate > current)
    ):
        order.trail_stop_price = candidate


def stop_price(order: SimulatedOrder) -> float | None:
    if order.order_type == TRAIL:
        return order.trail_stop_price
    return order.aux_price


def check_trigger(order: SimulatedOrder, quote: Quote) -> bool:
    """Stops trigger on the last trade through the stop price (IB's 'last' trigger method)."""
    if not is_stop_type(order) or order.triggered:
        return True
    stop = stop_price(order)
    if stop is None:
        return False
    hit = quote.last >= stop if order.is_buy else quote.last <= stop
    if hit:
        order.triggered = True
    return hit


def effective_limit(order: SimulatedOrder) -> float | None:
    """The limit a working order respects, or None when it takes any price."""
    if order.order_type in {LIMIT, STOP_LIMIT}:
        return order.limit_price
    return None


def is_active(order: SimulatedOrder) -> bool:
    """Whether the order takes liquidity now: market and limit orders, stops once triggered."""
    return order.order_type in {MARKET, LIMIT} or order.triggered
