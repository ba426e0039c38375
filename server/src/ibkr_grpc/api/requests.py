"""Incoming ibkr.v1 requests to domain values.

The rules of each field of every service's requests are in the .proto files (buf.validate
annotations), checked for every request before any servicer runs (api.request_rules): what
reaches these readers and the servicers keeps them. What stays by hand is what those rules cannot
say, each reported as a field violation:
- The well-known types' own validity: a Timestamp's or Duration's nanos out of range or of the
  other sign (protovalidate checks only the ranges written in the .proto), here and for the risk
  limits' windows (api.risk_limits).
- What depends on what the request does with a contract (ContractUse): one option or future
  named, a continuous future only for history and details.
- The calendar: a contract month or last trading day that is a real date (here), an option
  chain's expiration (api.option_requests); an end after a start.
- The clock: a history given by start_time starts before now (api.market_data_servicer).
- What the server's state decides: whether the gateway manages an account (services), who may
  halt which account (api.risk_servicer).
- Defaults that need the server's settings or state (page sizes, heartbeat, exchanges).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

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
from ibkr_grpc.domain.combinations import combination_contract
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import (
    OptionRight,
    OrderStatus,
    SecurityType,
    TimeInForce,
)
from ibkr_grpc.domain.errors import ValidationError, ViolationCollector, shown
from ibkr_grpc.domain.orders import BracketLegs, ComboLeg, OrderIntent, OrderTerms
from ibkr_grpc.domain.queries import DEFAULT_PAGE_SIZE, MAXIMUM_PAGE_SIZE, FillFilter, OrderFilter
from ibkr_grpc.services.order_changes import OrderChanges

_SECURITY_TYPES = reverse(SECURITY_TYPES)
_OPTION_RIGHTS = reverse(OPTION_RIGHTS)
_SIDES = reverse(SIDES)
_ORDER_TYPES = reverse(ORDER_TYPES)
_TIMES_IN_FORCE = reverse(TIMES_IN_FORCE)
_ORDER_STATUSES = reverse(ORDER_STATUSES)

# When a request leaves heartbeat_interval unset (its .proto allows 1 s to 300 s).
DEFAULT_HEARTBEAT = timedelta(seconds=15)

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
# years); outside them the conversions raise, and a caller's typo would become INTERNAL. The
# request rules bound the Timestamps and Durations of requests; these guard the conversions.
_TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
_DURATION_SECONDS = 315_576_000_000
_NANOS = 999_999_999


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
    security_type = _SECURITY_TYPES.get(message.security_type, SecurityType.STOCK)
    right = _OPTION_RIGHTS.get(message.right, OptionRight.NONE)
    strike = _decimal(message.strike)
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
    # The rules check its form (YYYYMM or YYYYMMDD) and that only derivatives have one; the
    # calendar is checked here.
    if expiry and security_type in _DERIVATIVE_TYPES and not _is_expiry(expiry):
        violations.add(
            f"{path}.last_trade_date_or_contract_month",
            f"must be a last trading day YYYYMMDD or a contract month YYYYMM, got {shown(expiry)}",
        )
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


def _decimal(text: str) -> Decimal | None:
    """A decimal field the request rules have checked: None when empty."""
    return Decimal(text) if text else None


def read_terms(request: order_service_pb2.PlaceOrderRequest) -> OrderTerms:
    """The order's terms; the request rules have checked them, and which prices its type takes."""
    return OrderTerms(
        side=_SIDES[request.side],
        quantity=Decimal(request.quantity),
        order_type=_ORDER_TYPES[request.order_type],
        limit_price=_decimal(request.limit_price),
        stop_price=_decimal(request.stop_price),
        trailing_amount=_decimal(request.trailing_amount),
        trailing_percent=_decimal(request.trailing_percent),
        time_in_force=_TIMES_IN_FORCE.get(request.time_in_force, TimeInForce.DAY),
        outside_regular_hours=request.outside_regular_hours,
    )


def _read_legs(request: order_service_pb2.PlaceOrderRequest) -> BracketLegs:
    take_profit = stop_loss_stop = stop_loss_limit = None
    if request.HasField("take_profit"):
        take_profit = _decimal(request.take_profit.limit_price)
    if request.HasField("stop_loss"):
        stop_loss_stop = _decimal(request.stop_loss.stop_price)
        stop_loss_limit = _decimal(request.stop_loss.limit_price)
    return BracketLegs(take_profit, stop_loss_stop, stop_loss_limit)


def _read_combo_legs(
    violations: ViolationCollector, request: order_service_pb2.PlaceOrderRequest
) -> tuple[ComboLeg, ...]:
    legs: list[ComboLeg] = []
    for index, leg in enumerate(request.legs):
        contract = read_contract(
            violations, f"legs[{index}].contract", leg.contract, present=leg.HasField("contract")
        )
        if contract is not None:
            legs.append(ComboLeg(contract, _SIDES[leg.side], leg.ratio))
    return tuple(legs)


def read_place_order(request: order_service_pb2.PlaceOrderRequest) -> OrderIntent:
    """A validated order intent; raises ValidationError for what the request rules cannot say
    (api.request_rules has checked the rest, the order as a whole included)."""
    violations = ViolationCollector()
    if request.legs:
        combo_legs = _read_combo_legs(violations, request)
        contract = combination_contract(combo_legs) if combo_legs else None
    else:
        combo_legs = ()
        contract = read_contract(
            violations, "contract", request.contract, present=request.HasField("contract")
        )
    violations.raise_if_any()
    if contract is None:  # unreachable: the rules require a contract or legs
        raise ValidationError([])
    return OrderIntent(
        account=request.account,
        contract=contract,
        terms=read_terms(request),
        legs=_read_legs(request),
        client_order_id=request.client_order_id,
        validate_only=request.validate_only,
        combo_legs=combo_legs,
    )


def read_modify_order(request: order_service_pb2.ModifyOrderRequest) -> OrderChanges:
    """The changes; the request rules have checked every field and that one is given."""

    def optional(name: str) -> Decimal | None:
        if not request.HasField(name):  # type: ignore[arg-type]
            return None
        return _decimal(getattr(request, name))

    return OrderChanges(
        order_id=request.order_id,
        quantity=optional("quantity"),
        limit_price=optional("limit_price"),
        stop_price=optional("stop_price"),
        trailing_amount=optional("trailing_amount"),
        trailing_percent=optional("trailing_percent"),
        time_in_force=_TIMES_IN_FORCE.get(request.time_in_force),
    )


def read_page_size(page_size: int) -> int:
    """The page size to serve: the default for 0 (the rules refuse a negative one), capped."""
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
    statuses: list[OrderStatus] = [
        _ORDER_STATUSES[value] for value in request.statuses if value in _ORDER_STATUSES
    ]
    start, end = _read_time_range(violations, request)
    page_size = read_page_size(request.page_size)
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
    page_size = read_page_size(request.page_size)
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
    # The rules bound it to 1 s..300 s; read_duration still checks its nanos.
    value = read_duration(violations, "heartbeat_interval", interval)
    return DEFAULT_HEARTBEAT if value is None else value
