"""Incoming ibkr.v1.OptionService requests to domain values. The fields' rules are in
option_service.proto (checked before any servicer runs), what an underlying may be among them;
here: that an expiration is a day of the calendar (and what api.requests keeps for contracts)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from ibkr.v1 import common_pb2, option_service_pb2
from ibkr_grpc.api import requests
from ibkr_grpc.api.conversions import OPTION_RIGHTS, reverse
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OptionRight
from ibkr_grpc.domain.errors import ViolationCollector, shown
from ibkr_grpc.domain.options import (
    DEFAULT_STRIKES_PER_SIDE,
    ChainWindowRequest,
    StrikeRange,
)

_OPTION_RIGHTS = reverse(OPTION_RIGHTS)


def read_underlying(
    violations: ViolationCollector, message: common_pb2.Contract, *, present: bool
) -> ContractSpec | None:
    # The rules hold the security type to UNDERLYING_TYPES (or unspecified, a stock).
    return requests.read_contract(violations, "underlying", message, present=present)


def read_get_option_chain(
    request: option_service_pb2.GetOptionChainRequest,
) -> tuple[ContractSpec, str]:
    violations = ViolationCollector()
    underlying = read_underlying(
        violations, request.underlying, present=request.HasField("underlying")
    )
    exchange = request.exchange.upper()
    violations.raise_if_any()
    assert underlying is not None  # noqa: S101  its absence is a violation above
    return underlying, exchange


def _read_expiration(violations: ViolationCollector, text: str) -> str:
    # The rules require eight digits; the calendar is checked here.
    if not _is_day(text):
        violations.add("expiration", f"must be a day YYYYMMDD, got {shown(text)}")
    return text


def _is_day(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d")  # noqa: DTZ007  a calendar day, not an instant
    except ValueError:
        return False
    return True


def _read_window(
    request: option_service_pb2.StreamOptionChainRequest,
) -> tuple[int, StrikeRange | None]:
    """strikes_per_side, or a strike range (both ends); the rules have checked which is given,
    the decimals and the bounds."""
    if request.minimum_strike and request.maximum_strike:
        range_ = StrikeRange(Decimal(request.minimum_strike), Decimal(request.maximum_strike))
        return 0, range_
    return request.strikes_per_side or DEFAULT_STRIKES_PER_SIDE, None


def read_stream_option_chain(
    request: option_service_pb2.StreamOptionChainRequest,
) -> tuple[ChainWindowRequest, timedelta, int]:
    """The window, the heartbeat interval and the quotes per message of a chain stream."""
    violations = ViolationCollector()
    underlying = read_underlying(
        violations, request.underlying, present=request.HasField("underlying")
    )
    expiration = _read_expiration(violations, request.expiration)
    exchange = request.exchange.upper()
    trading_class = request.trading_class.upper()
    per_side, strike_range = _read_window(request)
    right = _OPTION_RIGHTS[request.right]
    heartbeat = requests.read_heartbeat_interval(
        violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
    )
    batch = request.max_quotes_per_message
    violations.raise_if_any()
    assert underlying is not None  # noqa: S101  its absence is a violation above
    window = ChainWindowRequest(
        underlying=underlying,
        expiration=expiration,
        exchange=exchange,
        trading_class=trading_class,
        strikes_per_side=per_side,
        strike_range=strike_range,
        right=right or OptionRight.NONE,
    )
    return window, heartbeat, max(batch, 1)
