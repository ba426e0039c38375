"""Pre-trade risk checks: every order passes them before anything is sent to IB (and a
validate_only dry run passes them too). Each rule accepts an order at its limit and refuses
one just past it, with the rule, the limit and the requested value in the error."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from ibkr_grpc.domain.enums import OrderType, Side
from ibkr_grpc.domain.errors import QuotaViolation, RateLimitExceededError, RiskRejectedError
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.domain.portfolio import Position, ProfitAndLoss
from ibkr_grpc.domain.risk import RiskLimits
from ibkr_grpc.services.ports import OrderRepository, RiskRepository


class ExposureSource(Protocol):
    def positions(self, account: str = "") -> list[Position]: ...
    def profit_and_loss(self, account: str) -> ProfitAndLoss: ...


def _text(value: object) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _refuse(
    reason: str, rule: str, message: str, *, limit: object, requested: object
) -> RiskRejectedError:
    return RiskRejectedError(
        reason, message, subject=rule, limit=_text(limit), requested=_text(requested)
    )


class RiskEngine:
    def __init__(
        self,
        repository: RiskRepository,
        orders: OrderRepository,
        exposure: ExposureSource,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._repository = repository
        self._orders = orders
        self._exposure = exposure
        self._clock = clock
        self._limits = RiskLimits()
        self._recent_orders: dict[str, deque[datetime]] = {}

    async def load(self, from_file: RiskLimits | None) -> None:
        """The stored limits; the file's (if any) seed an empty database. Stored limits win,
        since UpdateRiskLimits writes there."""
        stored = await self._repository.load_limits()
        if stored is None and from_file is not None:
            await self._repository.save_limits(
                from_file, updated_by="risk-limits-file", now=self._clock()
            )
            stored = from_file
        self._limits = stored or RiskLimits()

    def limits(self) -> RiskLimits:
        return self._limits

    async def update(self, limits: RiskLimits, *, updated_by: str) -> RiskLimits:
        await self._repository.save_limits(limits, updated_by=updated_by, now=self._clock())
        self._limits = limits
        return limits

    async def check(self, orders: Sequence[Order], *, reference_price: Decimal | None) -> None:
        """Raise RiskRejectedError (or RateLimitExceededError) for the first rule broken."""
        limits = self._limits
        entry = orders[0]
        self._check_instrument(limits, entry)
        price = entry.terms.limit_price or entry.terms.stop_price or reference_price
        self._check_size(limits, entry, price)
        self._check_collar(limits, entry, reference_price)
        self._check_exposure(limits, entry, price)
        await self._check_open_orders(limits, entry.account, len(orders))
        self._check_daily_loss(limits, entry.account)
        self._check_rate(limits, entry.account)

    def accepted(self, account: str) -> None:
        """Count an order that passed and is being sent, for the order-rate rule."""
        self._recent_orders.setdefault(account, deque()).append(self._clock())

    def _check_instrument(self, limits: RiskLimits, order: Order) -> None:
        symbol = order.contract.symbol.upper()
        if symbol in limits.denied_symbols:
            raise _refuse(
                "SYMBOL_NOT_ALLOWED",
                "denied_symbols",
                f"{symbol} is on the deny list",
                limit="allow/deny lists",
                requested=symbol,
            )
        if limits.allowed_symbols and symbol not in limits.allowed_symbols:
            raise _refuse(
                "SYMBOL_NOT_ALLOWED",
                "allowed_symbols",
                f"{symbol} is not on the allow list",
                limit="allow/deny lists",
                requested=symbol,
            )
        if order.terms.order_type is OrderType.MARKET and not limits.market_orders_allowed:
            raise _refuse(
                "ORDER_TYPE_NOT_ALLOWED",
                "market_orders_allowed",
                "market orders are not allowed",
                limit="false",
                requested="MARKET",
            )
        if order.terms.outside_regular_hours and not limits.outside_regular_hours_allowed:
            raise _refuse(
                "ORDER_TYPE_NOT_ALLOWED",
                "outside_regular_hours_allowed",
                "orders outside regular hours are not allowed",
                limit="false",
                requested="true",
            )

    def _check_size(self, limits: RiskLimits, order: Order, price: Decimal | None) -> None:
        quantity = order.terms.quantity
        if limits.max_order_quantity is not None and quantity > limits.max_order_quantity:
            raise _refuse(
                "ORDER_SIZE_LIMIT_EXCEEDED",
                "max_order_quantity",
                f"quantity {quantity} is past the limit {limits.max_order_quantity}",
                limit=limits.max_order_quantity,
                requested=quantity,
            )
        if limits.max_order_notional is not None:
            if price is None:
                raise _refuse(
                    "ORDER_SIZE_LIMIT_EXCEEDED",
                    "max_order_notional",
                    "no price to check the order's notional against",
                    limit=limits.max_order_notional,
                    requested="unknown",
                )
            notional = quantity * price
            if notional > limits.max_order_notional:
                raise _refuse(
                    "ORDER_SIZE_LIMIT_EXCEEDED",
                    "max_order_notional",
                    f"notional {notional} is past the limit {limits.max_order_notional}",
                    limit=limits.max_order_notional,
                    requested=notional,
                )

    def _check_collar(self, limits: RiskLimits, order: Order, reference: Decimal | None) -> None:
        limit_price = order.terms.limit_price
        if limits.price_collar_percent is None or limit_price is None:
            return
        if reference is None or reference <= 0:
            raise _refuse(
                "PRICE_OUTSIDE_COLLAR",
                "price_collar_percent",
                "no quote to check the limit price against",
                limit=limits.price_collar_percent,
                requested="unknown",
            )
        distance = abs(limit_price - reference) / reference * 100
        if distance > limits.price_collar_percent:
            raise _refuse(
                "PRICE_OUTSIDE_COLLAR",
                "price_collar_percent",
                f"limit price {limit_price} is {distance:.2f}% from the market {reference}",
                limit=limits.price_collar_percent,
                requested=distance.quantize(Decimal("0.01")),
            )

    def _check_exposure(self, limits: RiskLimits, order: Order, price: Decimal | None) -> None:
        if limits.max_position_quantity is None and limits.max_gross_exposure is None:
            return
        positions = self._exposure.positions(order.account)
        signed = order.terms.quantity if order.terms.side is Side.BUY else -order.terms.quantity
        if limits.max_position_quantity is not None:
            current = sum(
                (p.quantity for p in positions if p.contract.con_id == order.contract.con_id),
                Decimal(0),
            )
            after = abs(current + signed)
            if after > limits.max_position_quantity:
                raise _refuse(
                    "POSITION_LIMIT_EXCEEDED",
                    "max_position_quantity",
                    f"the position would be {after}, past the limit {limits.max_position_quantity}",
                    limit=limits.max_position_quantity,
                    requested=after,
                )
        if limits.max_gross_exposure is not None:
            gross = sum((abs(p.market_value or Decimal(0)) for p in positions), Decimal(0))
            after_gross = gross + order.terms.quantity * (price or Decimal(0))
            if after_gross > limits.max_gross_exposure:
                raise _refuse(
                    "POSITION_LIMIT_EXCEEDED",
                    "max_gross_exposure",
                    f"gross exposure would be {after_gross}, past the limit {limits.max_gross_exposure}",
                    limit=limits.max_gross_exposure,
                    requested=after_gross,
                )

    async def _check_open_orders(self, limits: RiskLimits, account: str, adding: int) -> None:
        if limits.max_open_orders is None:
            return
        working = len(await self._orders.working_orders(account))
        if working + adding > limits.max_open_orders:
            raise _refuse(
                "OPEN_ORDER_LIMIT_EXCEEDED",
                "max_open_orders",
                f"{working} orders are working; {adding} more would pass the limit {limits.max_open_orders}",
                limit=limits.max_open_orders,
                requested=working + adding,
            )

    def _check_daily_loss(self, limits: RiskLimits, account: str) -> None:
        if limits.daily_loss_limit is None:
            return
        daily = self._exposure.profit_and_loss(account).daily_pnl
        if daily is not None and daily < -limits.daily_loss_limit:
            raise _refuse(
                "DAILY_LOSS_LIMIT_EXCEEDED",
                "daily_loss_limit",
                f"today's PnL {daily} is past the loss limit {limits.daily_loss_limit}",
                limit=-limits.daily_loss_limit,
                requested=daily,
            )

    def _check_rate(self, limits: RiskLimits, account: str) -> None:
        if limits.max_orders_per_minute is None:
            return
        now = self._clock()
        recent = self._recent_orders.setdefault(account, deque())
        while recent and recent[0] <= now - timedelta(minutes=1):
            recent.popleft()
        if len(recent) >= limits.max_orders_per_minute:
            retry = recent[0] + timedelta(minutes=1) - now
            raise RateLimitExceededError(
                f"{len(recent)} orders in the last minute; the limit is {limits.max_orders_per_minute}",
                metadata={
                    "limit": str(limits.max_orders_per_minute),
                    "requested": str(len(recent) + 1),
                },
                quota_violations=(
                    QuotaViolation(
                        f"orders_per_minute:{account}", f"at most {limits.max_orders_per_minute}"
                    ),
                ),
                retry_after=retry,
            )
