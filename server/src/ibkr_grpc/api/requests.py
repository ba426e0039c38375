"""Incoming ibkr.v1 requests to domain values, with every bad field reported at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from google.protobuf import duration_pb2, timestamp_pb2

from ibkr.v1 import common_pb2, order_service_pb2
from ibkr_grpc.api.conversions import (
    OPTION_RIGHTS,
    ORDER_STATUSES,
    ORDER_TYPES,
    SECURITY_TYPES,
    SIDES,
    TIMES_IN_FORCE,
    reverse,
)
from ibkr_grpc.domain.combinations import MAXIMUM_LEGS, MINIMUM_LEGS, combination_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.decimals import read_decimal
from ibkr_grpc.domain.enums import (
    OptionRight,
    OrderStatus,
    OrderType,
    SecurityType,
    Side,
    TimeInForce,
)
from ibkr_grpc.domain.errors import OrderValidationError, ViolationCollector, shown
from ibkr_grpc.domain.orders import BracketLegs, ComboLeg, OrderIntent, OrderTerms
from ibkr_grpc.domain.queries import DEFAULT_PAGE_SIZE, MAXIMUM_PAGE_SIZE, FillFilter, OrderFilter
from ibkr_grpc.services.order_changes import OrderChanges

_SECURITY_TYPES = reverse(SECURITY_TYPES)
_OPTION_RIGHTS = reverse(OPTION_RIGHTS)
_SIDES = reverse(SIDES)
_ORDER_TYPES = reverse(ORDER_TYPES)
_TIMES_IN_FORCE = reverse(TIMES_IN_FORCE)
_ORDER_STATUSES = reverse(ORDER_STATUSES)
_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_SYMBOL = re.compile(r"[A-Za-z0-9.\- ]{1,32}")
_CODE = re.compile(r"[A-Za-z0-9.\-_]{0,32}")
# IB's wire protocol separates fields with NUL: a control character in a contract's free-text
# field would corrupt the message to IB Gateway, which then never answers it.
_CONTRACT_TEXT = re.compile(r"[^\x00-\x1f\x7f]{0,64}")

T = TypeVar("T")

DEFAULT_HEARTBEAT = timedelta(seconds=15)
MINIMUM_HEARTBEAT = timedelta(seconds=1)
MAXIMUM_HEARTBEAT = timedelta(seconds=300)

# A future's exchange is its listing exchange ("CME"): left empty, IB finds it.
_DEFAULT_EXCHANGES = {
    SecurityType.FOREX: "IDEALPRO",
    SecurityType.CRYPTO: "PAXOS",
    SecurityType.FUTURE: "",
    SecurityType.FUTURE_OPTION: "",
    SecurityType.CONTINUOUS_FUTURE: "",
}
_EXPIRY = re.compile(r"[0-9]{6}([0-9]{2})?")

# The ranges google.protobuf's well-known types define (0001-01-01 to 9999-12-31, and +-10,000
# years); outside them the conversions raise, and a caller's typo would become INTERNAL.
_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
_DURATION_SECONDS = 315_576_000_000
_NANOS = 999_999_999
# IB's contract ids are 32-bit.
_MAXIMUM_CON_ID = 2**31 - 1


def read_timestamp(
    violations: ViolationCollector, path: str, message: timestamp_pb2.Timestamp
) -> datetime | None:
    """Every Timestamp a request carries is read here: None (and a violation) when it is
    outside 0001-01-01..9999-12-31 or its nanos are not 0..999,999,999."""
    lowest, highest = _TIMESTAMP_SECONDS
    if not lowest <= message.seconds <= highest:
        violations.add(path, "must be between 0001-01-01 and 9999-12-31T23:59:59Z")
        return None
    if not 0 <= message.nanos <= _NANOS:
        violations.add(f"{path}.nanos", "must be 0 to 999,999,999")
        return None
    return message.ToDatetime(tzinfo=UTC)


def read_duration(
    violations: ViolationCollector, path: str, message: duration_pb2.Duration
) -> timedelta | None:
    """Every Duration a request carries is read here: None (and a violation) when it is
    beyond +-10,000 years, or its nanos are out of range or of the other sign."""
    if not -_DURATION_SECONDS <= message.seconds <= _DURATION_SECONDS:
        violations.add(path, "must be at most 10,000 years either way")
        return None
    if not -_NANOS <= message.nanos <= _NANOS or message.seconds * message.nanos < 0:
        violations.add(f"{path}.nanos", "must be -999,999,999 to 999,999,999, of the seconds' sign")
        return None
    return message.ToTimedelta()


class ContractUse(StrEnum):
    """What a request does with its contract, for the checks that depend on it."""

    # Contract details: a partial option or future description lists every match.
    LOOKUP = "LOOKUP"
    # Historical bars: one contract, or a continuous future's series.
    HISTORY = "HISTORY"
    # Quotes, streams and orders: one contract; IB takes no market data or order for a
    # continuous future ("Continuous futures cannot be used with real time data or to place
    # orders", quoted in github.com/erdewit/ib_insync/issues/263).
    MARKET = "MARKET"


def read_contract(
    violations: ViolationCollector,
    path: str,
    message: common_pb2.Contract,
    *,
    present: bool,
    use: ContractUse = ContractUse.MARKET,
) -> ContractSpec | None:
    """A contract from the request; unspecified security type means a stock, empty exchange
    and currency mean SMART (IDEALPRO for forex; the listing exchange IB reports for futures)
    and USD."""
    if not present:
        violations.add(path, "is required")
        return None
    if not 0 <= message.con_id <= _MAXIMUM_CON_ID:
        violations.add(f"{path}.con_id", f"must be 0 to {_MAXIMUM_CON_ID}")
    if not message.symbol and message.con_id == 0:
        violations.add(f"{path}.symbol", "is required unless con_id is given")
    elif message.symbol and not _SYMBOL.fullmatch(message.symbol):
        violations.add(f"{path}.symbol", "must be 1 to 32 letters, digits, '.', '-' or spaces")
    security_type = SecurityType.STOCK
    if message.security_type != common_pb2.SECURITY_TYPE_UNSPECIFIED:
        known = _SECURITY_TYPES.get(message.security_type)
        if known is None:
            violations.add(f"{path}.security_type", f"unknown value {message.security_type}")
        else:
            security_type = known
    for name in ("exchange", "primary_exchange", "currency", "trading_class"):
        if not _CODE.fullmatch(getattr(message, name)):
            violations.add(f"{path}.{name}", "must be letters, digits, '.', '-' or '_'")
    for name in ("local_symbol", "last_trade_date_or_contract_month", "multiplier"):
        if not _CONTRACT_TEXT.fullmatch(getattr(message, name)):
            violations.add(f"{path}.{name}", "must be at most 64 characters, none of them control")
    right = _OPTION_RIGHTS.get(message.right, OptionRight.NONE)
    if message.right not in _OPTION_RIGHTS:
        violations.add(f"{path}.right", f"unknown value {message.right}")
    strike = read_decimal(violations, f"{path}.strike", message.strike, positive=True)
    _check_derivative_terms(violations, path, message, security_type, use)
    return ContractSpec(
        symbol=message.symbol.upper(),
        security_type=security_type,
        exchange=message.exchange.upper() or _DEFAULT_EXCHANGES.get(security_type, "SMART"),
        currency=message.currency.upper() or "USD",
        con_id=message.con_id,
        primary_exchange=message.primary_exchange.upper(),
        local_symbol=message.local_symbol,
        trading_class=message.trading_class,
        last_trade_date_or_contract_month=message.last_trade_date_or_contract_month,
        strike=strike,
        right=right,
        multiplier=message.multiplier,
    )


_DERIVATIVE_TYPES = frozenset(
    {SecurityType.OPTION, SecurityType.FUTURE_OPTION, SecurityType.FUTURE}
)
_NO_MARKET_DATA = (
    "a continuous future serves history and contract details only (IB takes no market data "
    "or orders for one): use its front month, which GetContractDetails of the continuous "
    "future answers with"
)


def _check_derivative_terms(
    violations: ViolationCollector,
    path: str,
    message: common_pb2.Contract,
    security_type: SecurityType,
    use: ContractUse,
) -> None:
    """Expiry, strike, right and multiplier: well formed, only on the types that have them,
    and, where one contract is meant, enough of them to name it."""
    if security_type is SecurityType.CONTINUOUS_FUTURE:
        if use is ContractUse.MARKET:
            violations.add(f"{path}.security_type", _NO_MARKET_DATA)
        if not message.symbol:
            violations.add(f"{path}.symbol", "is required for a continuous future")
    expiry = message.last_trade_date_or_contract_month
    if expiry and _CONTRACT_TEXT.fullmatch(expiry):
        if security_type not in _DERIVATIVE_TYPES:
            violations.add(
                f"{path}.last_trade_date_or_contract_month",
                "must be empty: only options and (dated) futures expire",
            )
        elif not _is_expiry(expiry):
            violations.add(
                f"{path}.last_trade_date_or_contract_month",
                f"must be a last trading day YYYYMMDD or a contract month YYYYMM, "
                f"got {shown(expiry)}",
            )
    if not security_type.is_option:
        if message.strike:
            violations.add(f"{path}.strike", "must be empty: only options have a strike")
        if message.right != common_pb2.OPTION_RIGHT_UNSPECIFIED:
            violations.add(f"{path}.right", "must be unspecified: only options have a right")
    if message.multiplier and _CONTRACT_TEXT.fullmatch(message.multiplier):
        read_decimal(violations, f"{path}.multiplier", message.multiplier, positive=True)
    named = message.con_id != 0 or bool(message.local_symbol)
    if use is not ContractUse.LOOKUP and not named and security_type in _DERIVATIVE_TYPES:
        _check_one_contract(violations, path, message, security_type)


def _check_one_contract(
    violations: ViolationCollector,
    path: str,
    message: common_pb2.Contract,
    security_type: SecurityType,
) -> None:
    """One contract from its terms: an option needs its day, strike and right, a future its
    month or day (IB answers a partial description with every match)."""
    expiry = message.last_trade_date_or_contract_month
    if not expiry:
        violations.add(
            f"{path}.last_trade_date_or_contract_month",
            "is required for one option or future (or give con_id or local_symbol)",
        )
    if not security_type.is_option:
        return
    if expiry and len(expiry) != 8:
        violations.add(
            f"{path}.last_trade_date_or_contract_month",
            "must be the expiration day YYYYMMDD for one option",
        )
    if not message.strike:
        violations.add(f"{path}.strike", "is required for one option")
    if message.right == common_pb2.OPTION_RIGHT_UNSPECIFIED:
        violations.add(f"{path}.right", "is required for one option")


def _is_expiry(text: str) -> bool:
    if not _EXPIRY.fullmatch(text):
        return False
    try:
        datetime.strptime(text if len(text) == 8 else f"{text}01", "%Y%m%d")  # noqa: DTZ007  a date
    except ValueError:
        return False
    return True


def _enum(violations: ViolationCollector, path: str, value: int, known: dict[int, T]) -> T | None:
    if value == 0:
        violations.add(path, "is required")
        return None
    result = known.get(value)
    if result is None:
        violations.add(path, f"unknown value {value}")
    return result


# Which prices each order type takes: (limit_price, stop_price, trailing) as required/allowed.
_REQUIRED = "required"
_OPTIONAL = "optional"
_FORBIDDEN = "forbidden"
_PRICE_RULES: dict[OrderType, tuple[str, str, str]] = {
    OrderType.MARKET: (_FORBIDDEN, _FORBIDDEN, _FORBIDDEN),
    OrderType.LIMIT: (_REQUIRED, _FORBIDDEN, _FORBIDDEN),
    OrderType.STOP: (_FORBIDDEN, _REQUIRED, _FORBIDDEN),
    OrderType.STOP_LIMIT: (_REQUIRED, _REQUIRED, _FORBIDDEN),
    OrderType.TRAILING_STOP: (_FORBIDDEN, _OPTIONAL, _REQUIRED),
}


def _check_presence(
    violations: ViolationCollector, path: str, value: object, rule: str, kind: OrderType
) -> None:
    if rule == _REQUIRED and value is None:
        violations.add(path, f"is required for {kind.value} orders")
    elif rule == _FORBIDDEN and value is not None:
        violations.add(path, f"must be empty for {kind.value} orders")


def read_terms(
    violations: ViolationCollector,
    request: order_service_pb2.PlaceOrderRequest,
    *,
    net_price: bool = False,
) -> OrderTerms | None:
    """The order's terms; with `net_price` (a combination) the limit price may be zero or
    negative (a credit)."""

    side_value = request.side
    quantity_text = request.quantity
    order_type_value = request.order_type
    limit_text = request.limit_price
    stop_text = request.stop_price
    trailing_amount_text = request.trailing_amount
    trailing_percent_text = request.trailing_percent
    time_in_force_value = request.time_in_force
    outside_regular_hours = request.outside_regular_hours
    side = _enum(violations, "side", side_value, _SIDES)
    quantity = read_decimal(violations, "quantity", quantity_text, required=True, positive=True)
    order_type = _enum(violations, "order_type", order_type_value, _ORDER_TYPES)
    limit_price = read_decimal(violations, "limit_price", limit_text, positive=not net_price)
    stop_price = read_decimal(violations, "stop_price", stop_text, positive=True)
    trailing_amount = read_decimal(
        violations, "trailing_amount", trailing_amount_text, positive=True
    )
    trailing_percent = read_decimal(
        violations, "trailing_percent", trailing_percent_text, positive=True
    )
    time_in_force = TimeInForce.DAY
    if time_in_force_value != 0:
        time_in_force = _TIMES_IN_FORCE.get(time_in_force_value, TimeInForce.DAY)
        if time_in_force_value not in _TIMES_IN_FORCE:
            violations.add("time_in_force", f"unknown value {time_in_force_value}")
    if order_type is not None:
        limit_rule, stop_rule, trailing_rule = _PRICE_RULES[order_type]
        _check_presence(violations, "limit_price", limit_price, limit_rule, order_type)
        _check_presence(violations, "stop_price", stop_price, stop_rule, order_type)
        trailing = trailing_amount if trailing_amount is not None else trailing_percent
        if trailing_rule == _REQUIRED:
            if trailing_amount is not None and trailing_percent is not None:
                violations.add(
                    "trailing_percent", "give trailing_amount or trailing_percent, not both"
                )
            _check_presence(violations, "trailing_amount", trailing, trailing_rule, order_type)
        else:
            _check_presence(
                violations, "trailing_amount", trailing_amount, trailing_rule, order_type
            )
            _check_presence(
                violations, "trailing_percent", trailing_percent, trailing_rule, order_type
            )
        if trailing_percent is not None and trailing_percent >= 100:
            violations.add("trailing_percent", "must be below 100")
    if side is None or quantity is None or order_type is None:
        return None
    return OrderTerms(
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        stop_price=stop_price,
        trailing_amount=trailing_amount,
        trailing_percent=trailing_percent,
        time_in_force=time_in_force,
        outside_regular_hours=outside_regular_hours,
    )


def _read_legs(
    violations: ViolationCollector, request: order_service_pb2.PlaceOrderRequest
) -> BracketLegs:
    take_profit = None
    stop_loss_stop = None
    stop_loss_limit = None
    if request.HasField("take_profit"):
        take_profit = read_decimal(
            violations,
            "take_profit.limit_price",
            request.take_profit.limit_price,
            required=True,
            positive=True,
        )
    if request.HasField("stop_loss"):
        stop_loss_stop = read_decimal(
            violations,
            "stop_loss.stop_price",
            request.stop_loss.stop_price,
            required=True,
            positive=True,
        )
        stop_loss_limit = read_decimal(
            violations, "stop_loss.limit_price", request.stop_loss.limit_price, positive=True
        )
    return BracketLegs(take_profit, stop_loss_stop, stop_loss_limit)


def _check_bracket(violations: ViolationCollector, terms: OrderTerms, legs: BracketLegs) -> None:
    """Exit legs must sit on the profitable and the protective side of the entry."""
    if terms.order_type not in {OrderType.MARKET, OrderType.LIMIT}:
        violations.add("order_type", "a bracket's entry must be a MARKET or LIMIT order")
    if terms.time_in_force in {TimeInForce.IOC, TimeInForce.FOK}:
        violations.add("time_in_force", "a bracket's entry cannot be IOC or FOK")
    buying = terms.side is Side.BUY
    entry = terms.limit_price
    profit = legs.take_profit_limit_price
    stop = legs.stop_loss_stop_price

    def beyond(price: Decimal, reference: Decimal, *, above: bool) -> bool:
        return price > reference if above else price < reference

    if entry is not None and profit is not None and not beyond(profit, entry, above=buying):
        side = "above" if buying else "below"
        violations.add("take_profit.limit_price", f"must be {side} the entry limit price")
    if entry is not None and stop is not None and not beyond(stop, entry, above=not buying):
        side = "below" if buying else "above"
        violations.add("stop_loss.stop_price", f"must be {side} the entry limit price")
    if profit is not None and stop is not None and not beyond(profit, stop, above=buying):
        violations.add("take_profit.limit_price", "must be on the other side of the stop loss")
    limit = legs.stop_loss_limit_price
    if stop is not None and limit is not None and beyond(limit, stop, above=buying):
        side = "at or below" if buying else "at or above"
        violations.add("stop_loss.limit_price", f"must be {side} the stop-loss stop price")


def _read_combo_legs(
    violations: ViolationCollector, request: order_service_pb2.PlaceOrderRequest
) -> tuple[ComboLeg, ...]:
    legs: list[ComboLeg] = []
    if not MINIMUM_LEGS <= len(request.legs) <= MAXIMUM_LEGS:
        violations.add("legs", f"a multi-leg order has {MINIMUM_LEGS} to {MAXIMUM_LEGS} legs")
    for index, leg in enumerate(request.legs):
        path = f"legs[{index}]"
        contract = read_contract(
            violations, f"{path}.contract", leg.contract, present=leg.HasField("contract")
        )
        if contract is not None and contract.con_id == 0:
            violations.add(
                f"{path}.contract.con_id", "is required for a leg (IB's legs are by conId)"
            )
        side = _enum(violations, f"{path}.side", leg.side, _SIDES)
        if not 1 <= leg.ratio <= 1000:
            violations.add(f"{path}.ratio", "must be 1 to 1000")
        if contract is not None and side is not None:
            legs.append(ComboLeg(contract, side, leg.ratio))
    con_ids = [leg.contract.con_id for leg in legs]
    if len(set(con_ids)) != len(con_ids):
        violations.add("legs", "each leg must be a different contract")
    return tuple(legs)


def _check_combination(
    violations: ViolationCollector, request: order_service_pb2.PlaceOrderRequest, terms: OrderTerms
) -> None:
    if terms.order_type not in {OrderType.MARKET, OrderType.LIMIT}:
        violations.add("order_type", "a multi-leg order is a MARKET or LIMIT order")
    if request.HasField("take_profit") or request.HasField("stop_loss"):
        violations.add("legs", "a multi-leg order cannot have bracket legs")
    if terms.quantity != terms.quantity.to_integral_value():
        violations.add("quantity", "a multi-leg order trades whole combinations")


def read_place_order(request: order_service_pb2.PlaceOrderRequest) -> OrderIntent:
    """A validated order intent; raises ValidationError (bad fields) or OrderValidationError
    (fields fine each, the combination not)."""
    violations = ViolationCollector()
    if request.account and not _CODE.fullmatch(request.account):
        violations.add("account", "must be an IB account id like DU1234567")
    if request.client_order_id and not _CLIENT_ORDER_ID.fullmatch(request.client_order_id):
        violations.add("client_order_id", "must be 1 to 64 of A-Z a-z 0-9 . _ : -")
    combo_legs: tuple[ComboLeg, ...] = ()
    if request.legs:
        if request.HasField("contract"):
            violations.add("contract", "leave unset for a multi-leg order: its legs name it")
        combo_legs = _read_combo_legs(violations, request)
        contract = combination_contract(combo_legs) if combo_legs else None
    else:
        contract = read_contract(
            violations, "contract", request.contract, present=request.HasField("contract")
        )
    terms = read_terms(violations, request, net_price=bool(request.legs))
    legs = _read_legs(violations, request)
    violations.raise_if_any()
    if contract is None or terms is None:  # unreachable: their absence is a violation
        raise OrderValidationError([])
    combination = ViolationCollector()
    if legs.any and not combo_legs:
        _check_bracket(combination, terms, legs)
    if combo_legs:
        _check_combination(combination, request, terms)
    combination.raise_if_any(OrderValidationError)
    return OrderIntent(
        account=request.account,
        contract=contract,
        terms=terms,
        legs=legs,
        client_order_id=request.client_order_id,
        validate_only=request.validate_only,
        combo_legs=combo_legs,
    )


def read_order_id(violations: ViolationCollector, order_id: str) -> None:
    if not order_id:
        violations.add("order_id", "is required")
    elif len(order_id) > 40:
        violations.add("order_id", "is not an order id")


def read_modify_order(request: order_service_pb2.ModifyOrderRequest) -> OrderChanges:
    violations = ViolationCollector()
    read_order_id(violations, request.order_id)

    def optional(name: str) -> Decimal | None:
        if not request.HasField(name):  # type: ignore[arg-type]
            return None
        text: str = getattr(request, name)
        return read_decimal(violations, name, text, required=True, positive=True)

    time_in_force = None
    if request.time_in_force != 0:
        time_in_force = _TIMES_IN_FORCE.get(request.time_in_force)
        if time_in_force is None:
            violations.add("time_in_force", f"unknown value {request.time_in_force}")
    changes = OrderChanges(
        order_id=request.order_id,
        quantity=optional("quantity"),
        limit_price=optional("limit_price"),
        stop_price=optional("stop_price"),
        trailing_amount=optional("trailing_amount"),
        trailing_percent=optional("trailing_percent"),
        time_in_force=time_in_force,
    )
    violations.raise_if_any()
    if changes.empty:
        violations.add("quantity", "give at least one field to change")
        violations.raise_if_any()
    return changes


def read_page_size(violations: ViolationCollector, page_size: int) -> int:
    if page_size < 0:
        violations.add("page_size", "must not be negative")
        return DEFAULT_PAGE_SIZE
    return min(page_size or DEFAULT_PAGE_SIZE, MAXIMUM_PAGE_SIZE)


def _read_time_range(
    violations: ViolationCollector,
    request: order_service_pb2.ListOrdersRequest | order_service_pb2.ListFillsRequest,
) -> tuple[datetime | None, datetime | None]:
    start = end = None
    if request.HasField("start_time"):
        start = read_timestamp(violations, "start_time", request.start_time)
    if request.HasField("end_time"):
        end = read_timestamp(violations, "end_time", request.end_time)
    if start is not None and end is not None and end <= start:
        violations.add("end_time", "must be after start_time")
    return start, end


def read_list_orders(request: order_service_pb2.ListOrdersRequest) -> tuple[OrderFilter, int, str]:
    violations = ViolationCollector()
    statuses: list[OrderStatus] = []
    for index, value in enumerate(request.statuses):
        status = _ORDER_STATUSES.get(value)
        if status is None:
            violations.add(f"statuses[{index}]", f"unknown value {value}")
        else:
            statuses.append(status)
    start, end = _read_time_range(violations, request)
    page_size = read_page_size(violations, request.page_size)
    violations.raise_if_any()
    filters = OrderFilter(
        account=request.account,
        statuses=tuple(statuses),
        symbol=request.symbol.upper(),
        start_time=start,
        end_time=end,
    )
    return filters, page_size, request.page_token


def read_list_fills(request: order_service_pb2.ListFillsRequest) -> tuple[FillFilter, int, str]:
    violations = ViolationCollector()
    start, end = _read_time_range(violations, request)
    page_size = read_page_size(violations, request.page_size)
    violations.raise_if_any()
    filters = FillFilter(
        account=request.account,
        order_id=request.order_id,
        symbol=request.symbol.upper(),
        start_time=start,
        end_time=end,
    )
    return filters, page_size, request.page_token


def read_heartbeat_interval(
    violations: ViolationCollector, interval: duration_pb2.Duration, *, present: bool
) -> timedelta:
    if not present:
        return DEFAULT_HEARTBEAT
    value = read_duration(violations, "heartbeat_interval", interval)
    if value is None:
        return DEFAULT_HEARTBEAT
    if not MINIMUM_HEARTBEAT <= value <= MAXIMUM_HEARTBEAT:
        violations.add("heartbeat_interval", "must be between 1 s and 300 s")
        return DEFAULT_HEARTBEAT
    return value
