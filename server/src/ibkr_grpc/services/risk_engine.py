"""Pre-trade risk checks: every order command (a new order, a bracket with its legs, a
modification, and a validate_only dry run) passes them before anything is sent to IB. Each rule
accepts an order at its limit and refuses one just past it, with the rule, the limit and the
requested value in the error."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.enums import OrderType
from ibkr_grpc.domain.errors import QuotaViolation, RateLimitExceededError, RiskRejectedError
from ibkr_grpc.domain.orders import Order, OrderTerms
from ibkr_grpc.domain.portfolio import Position, ProfitAndLoss
from ibkr_grpc.domain.risk import RiskLimits
from ibkr_grpc.services.combination_risk import check_combination
from ibkr_grpc.services.exposure import (
    OptionDelta,
    Pending,
    contract_key,
    gross_exposure,
    pending,
    position_reach,
    underlying_delta_reach,
    underlying_key,
)
from ibkr_grpc.services.naked_options import naked_short_options
from ibkr_grpc.services.ports import RiskRepository


class WorkingOrders(Protocol):
    """The one thing the engine reads from the order store (OrderRepository has it)."""

    async def working_orders(self, account: str = "") -> list[Order]: ...


class ExposureSource(Protocol):
    def positions(self, account: str = "") -> list[Position]: ...
    def profit_and_loss(self, account: str) -> ProfitAndLoss: ...


def _text(value: object) -> str:
    # Decimals in the error's metadata read as in any response (one canonical form).
    return write_decimal(value) if isinstance(value, Decimal) else str(value)


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
        orders: WorkingOrders,
        exposure: ExposureSource,
        *,
        clock: Callable[[], datetime],
        deltas: OptionDelta | None = None,
    ) -> None:
        """`deltas` reads an option's delta from the quotes the gateway holds; without it every
        option counts at its worst delta (1 a call, -1 a put) for max_underlying_delta."""
        self._repository = repository
        self._deltas: OptionDelta = deltas or _no_delta
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

    async def check(
        self,
        orders: Sequence[Order],
        *,
        reference_price: Decimal | None,
        replacing: Order | None = None,
        in_flight: Mapping[str, OrderTerms] | None = None,
    ) -> None:
        """Raise RiskRejectedError (or RateLimitExceededError) for the first rule broken.

        `orders` are one command's new orders: a new order, a bracket (parent, then its exit
        legs), or, for a modification, the order as it would stand after the change with
        `replacing` the stored order before it. `in_flight` are the terms of modifications
        sent to IB and not yet confirmed, by order id: such an order counts at the larger of
        its stored and requested quantity, since IB may yet apply either. Reads the account's
        working orders once and nothing else, so the order manager can call it under its
        mutation lock."""
        if not orders:
            return
        limits = self._limits
        account = orders[0].account
        for order in orders:
            self._check_instrument(limits, order)
            if order.is_combination:
                positions = self._exposure.positions(account)
                check_combination(limits, order, positions, _refuse)
                continue
            self._check_size(limits, order, _own_price(order, reference_price))
            self._check_collar(limits, order, reference_price)
        working: list[Order] = []
        if _counts_working_orders(limits):
            working = [
                _worst_case(order, (in_flight or {}).get(order.order_id))
                for order in await self._orders.working_orders(account)
            ]
        self._check_exposure(limits, orders, working, replacing, reference_price)
        self._check_naked_options(limits, orders, working, replacing)
        self._check_underlying_delta(limits, orders, working, replacing)
        self._check_open_orders(limits, len(working), 0 if replacing is not None else len(orders))
        self._check_daily_loss(limits, account)
        self._check_rate(limits, account)

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
            # What the order is worth: an option's price is per share of 100, a future's per
            # point of its multiplier.
            notional = quantity * price * order.contract.value_multiplier
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

    def _check_exposure(
        self,
        limits: RiskLimits,
        orders: Sequence[Order],
        working: Sequence[Order],
        replacing: Order | None,
        reference_price: Decimal | None,
    ) -> None:
        """Positions of any origin plus every working order, each side at its worst, before
        and after the command. A rule refuses only a command that makes its side worse and
        leaves it past the limit, so orders that reduce a position are never blocked."""
        if limits.max_position_quantity is None and limits.max_gross_exposure is None:
            return
        # A combination's exposure is its legs', which these rules do not value yet; its loss
        # and legs pass combination_risk instead.
        orders = [order for order in orders if not order.is_combination]
        working = [order for order in working if not order.is_combination]
        if not orders:
            return
        positions = self._exposure.positions(orders[0].account)
        before = pending(working)
        gone = {order.order_id for order in orders}
        if replacing is not None:
            gone.add(replacing.order_id)
        after = pending([*(o for o in working if o.order_id not in gone), *orders])
        if limits.max_position_quantity is not None:
            for key in {contract_key(order.contract) for order in orders}:
                self._check_position(limits.max_position_quantity, positions, before, after, key)
        if limits.max_gross_exposure is not None:
            self._check_gross(
                limits.max_gross_exposure, positions, before, after, orders, reference_price
            )

    def _check_naked_options(
        self,
        limits: RiskLimits,
        orders: Sequence[Order],
        working: Sequence[Order],
        replacing: Order | None,
    ) -> None:
        """The account's option contracts short without cover (services.naked_options), with
        every working order at its worst, before and after the command: refused only when the
        command adds to them past the limit, so closing or covering is never blocked. A
        combination counts with its legs (its own shorts are covered, by check_combination, but
        it may sell a long that covers another short)."""
        limit = limits.max_naked_short_options
        if limit is None:
            return
        positions = self._exposure.positions(orders[0].account)
        gone = {order.order_id for order in orders}
        if replacing is not None:
            gone.add(replacing.order_id)
        before = naked_short_options(positions, pending(working))
        after = naked_short_options(
            positions, pending([*(o for o in working if o.order_id not in gone), *orders])
        )
        if after > before and after > limit:
            raise _refuse(
                "POSITION_LIMIT_EXCEEDED",
                "max_naked_short_options",
                f"{after} option contracts could be short without cover with the working "
                f"orders, past the limit {limit}",
                limit=limit,
                requested=after,
            )

    def _check_underlying_delta(
        self,
        limits: RiskLimits,
        orders: Sequence[Order],
        working: Sequence[Order],
        replacing: Order | None,
    ) -> None:
        """Per underlying the command trades, the delta-adjusted exposure of the positions and
        every working order at its worst (services.exposure.underlying_delta_reach), before and
        after the command: refused only when a side grows past the limit, so reducing or
        hedging is never blocked. A combination's legs are not counted here (combination_risk
        checks them)."""
        limit = limits.max_underlying_delta
        orders = [order for order in orders if not order.is_combination]
        if limit is None or not orders:
            return
        working = [order for order in working if not order.is_combination]
        positions = self._exposure.positions(orders[0].account)
        gone = {order.order_id for order in orders}
        if replacing is not None:
            gone.add(replacing.order_id)
        before = pending(working)
        after = pending([*(o for o in working if o.order_id not in gone), *orders])
        for underlying in sorted({underlying_key(order.contract) for order in orders}):
            was = underlying_delta_reach(positions, before, underlying, self._deltas)
            will = underlying_delta_reach(positions, after, underlying, self._deltas)
            for side, reached, previous in (
                ("long", will.long, was.long),
                ("short", will.short, was.short),
            ):
                if reached > previous and reached > limit:
                    raise _refuse(
                        "POSITION_LIMIT_EXCEEDED",
                        "max_underlying_delta",
                        f"the delta-adjusted exposure to {underlying} could reach {reached} "
                        f"{side} with the working orders, past the limit {limit}",
                        limit=limit,
                        requested=reached,
                    )

    def _check_position(
        self,
        limit: Decimal,
        positions: Sequence[Position],
        before: Sequence[Pending],
        after: Sequence[Pending],
        key: int | str,
    ) -> None:
        was = position_reach(positions, before, key)
        will = position_reach(positions, after, key)
        for side, reached, previous in (
            ("long", will.long, was.long),
            ("short", will.short, was.short),
        ):
            if reached > previous and reached > limit:
                raise _refuse(
                    "POSITION_LIMIT_EXCEEDED",
                    "max_position_quantity",
                    f"the position could reach {reached} {side} with the working orders, "
                    f"past the limit {limit}",
                    limit=limit,
                    requested=reached,
                )

    def _check_gross(
        self,
        limit: Decimal,
        positions: Sequence[Position],
        before: Sequence[Pending],
        after: Sequence[Pending],
        orders: Sequence[Order],
        reference_price: Decimal | None,
    ) -> None:
        if any(_own_price(order, reference_price) is None for order in orders):
            raise _refuse(
                "POSITION_LIMIT_EXCEEDED",
                "max_gross_exposure",
                "no price to value the order at",
                limit=limit,
                requested="unknown",
            )
        prices = _Pricing(positions, orders, reference_price)
        was = gross_exposure(positions, before, prices)
        will = gross_exposure(positions, after, prices)
        if will > was and will > limit:
            raise _refuse(
                "POSITION_LIMIT_EXCEEDED",
                "max_gross_exposure",
                f"gross exposure could reach {will} with the working orders, past the limit {limit}",
                limit=limit,
                requested=will,
            )

    def _check_open_orders(self, limits: RiskLimits, working: int, adding: int) -> None:
        # A modification adds no order, so it is never refused for the orders already working.
        if limits.max_open_orders is None or adding == 0:
            return
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


def _counts_working_orders(limits: RiskLimits) -> bool:
    return (
        limits.max_open_orders is not None
        or limits.max_position_quantity is not None
        or limits.max_gross_exposure is not None
        or limits.max_naked_short_options is not None
        or limits.max_underlying_delta is not None
    )


def _no_delta(contract: object) -> None:
    del contract


def _own_price(order: Order, reference_price: Decimal | None) -> Decimal | None:
    """The price an order of the command is valued at: its limit, else its stop, else the
    market's reference price."""
    return order.terms.limit_price or order.terms.stop_price or reference_price


class _Pricing:
    """Values any order for the gross-exposure rule: the command's orders at their own price,
    working orders at their limit or stop price, else the quote they arrived with, else the
    market price of the position in their contract."""

    def __init__(
        self,
        positions: Sequence[Position],
        orders: Sequence[Order],
        reference_price: Decimal | None,
    ) -> None:
        self._market = {
            contract_key(p.contract): p.market_price
            for p in positions
            if p.market_price is not None
        }
        self._command_contract = contract_key(orders[0].contract)
        self._reference_price = reference_price

    def __call__(self, order: Order) -> Decimal | None:
        own = order.terms.limit_price or order.terms.stop_price
        if own is not None:
            return own
        key = contract_key(order.contract)
        if key == self._command_contract and self._reference_price is not None:
            return self._reference_price
        if order.arrival_quote is not None and order.arrival_quote.reference_price is not None:
            return order.arrival_quote.reference_price
        return self._market.get(key)


def _worst_case(order: Order, requested: OrderTerms | None) -> Order:
    """A working order with a modification in flight, at whichever terms ask for more."""
    if requested is None or requested.quantity <= order.terms.quantity:
        return order
    return replace(order, terms=requested)
