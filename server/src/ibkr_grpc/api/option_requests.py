"""Incoming ibkr.v1.OptionService requests to domain values, every bad field reported at once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ibkr.v1 import common_pb2, option_service_pb2
from ibkr_grpc.api import requests
from ibkr_grpc.api.conversions import OPTION_RIGHTS, reverse
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.decimals import read_decimal
from ibkr_grpc.domain.enums import OptionRight
from ibkr_grpc.domain.errors import ViolationCollector, shown
from ibkr_grpc.domain.options import (
    DEFAULT_STRIKES_PER_SIDE,
    MAXIMUM_STRIKES_PER_SIDE,
    UNDERLYING_TYPES,
    ChainWindowRequest,
    StrikeRange,
)

_OPTION_RIGHTS = reverse(OPTION_RIGHTS)
_CODE = re.compile(r"[A-Za-z0-9.\-_]{0,32}")
_DAY = re.compile(r"[0-9]{8}")
# As StreamQuotesRequest.max_quotes_per_message.
MAXIMUM_QUOTES_PER_MESSAGE = 100


def read_underlying(
    violations: ViolationCollector, message: common_pb2.Contract, *, present: bool
) -> ContractSpec | None:
    underlying = requests.read_contract(violations, "underlying", message, present=present)
    if underlying is not None and underlying.security_type not in UNDERLYING_TYPES:
        violations.add(
            "underlying.security_type", "options are listed on stocks, futures and indices"
        )
    return underlying


def _read_code(violations: ViolationCollector, path: str, text: str) -> str:
    if not _CODE.fullmatch(text):
        violations.add(path, "must be letters, digits, '.', '-' or '_'")
    return text.upper()


def read_get_option_chain(
    request: option_service_pb2.GetOptionChainRequest,
) -> tuple[ContractSpec, str]:
    violations = ViolationCollector()
    underlying = read_underlying(
        violations, request.underlying, present=request.HasField("underlying")
    )
    exchange = _read_code(violations, "exchange", request.exchange)
    violations.raise_if_any()
    assert underlying is not None  # noqa: S101  its absence is a violation above
    return underlying, exchange


def _read_expiration(violations: ViolationCollector, text: str) -> str:
    if not text:
        violations.add("expiration", "is required (YYYYMMDD)")
        return text
    if not _DAY.fullmatch(text) or not _is_day(text):
        violations.add("expiration", f"must be a day YYYYMMDD, got {shown(text)}")
    return text


def _is_day(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d")  # noqa: DTZ007  a calendar day, not an instant
    except ValueError:
        return False
    return True


def _read_window(
    violations: ViolationCollector, request: option_service_pb2.StreamOptionChainRequest
) -> tuple[int, StrikeRange | None]:
    """strikes_per_side, or a strike range (both ends)."""
    minimum = read_decimal(violations, "minimum_strike", request.minimum_strike, positive=True)
    maximum = read_decimal(violations, "maximum_strike", request.maximum_strike, positive=True)
    ranged = bool(request.minimum_strike or request.maximum_strike)
    if ranged:
        if request.strikes_per_side:
            violations.add("strikes_per_side", "give strikes_per_side or a strike range, not both")
        if not request.minimum_strike:
            violations.add("minimum_strike", "is required with maximum_strike")
        if not request.maximum_strike:
            violations.add("maximum_strike", "is required with minimum_strike")
        if minimum is not None and maximum is not None:
            if maximum < minimum:
                violations.add("maximum_strike", "must not be below minimum_strike")
            return 0, StrikeRange(minimum, maximum)
        return 0, None
    per_side = request.strikes_per_side or DEFAULT_STRIKES_PER_SIDE
    if not 1 <= per_side <= MAXIMUM_STRIKES_PER_SIDE:
        violations.add("strikes_per_side", f"must be 1 to {MAXIMUM_STRIKES_PER_SIDE}")
    return per_side, None


def read_stream_option_chain(
    request: option_service_pb2.StreamOptionChainRequest,
) -> tuple[ChainWindowRequest, timedelta, int]:
    """The window, the heartbeat interval and the quotes per message of a chain stream."""
    violations = ViolationCollector()
    underlying = read_underlying(
        violations, request.underlying, present=request.HasField("underlying")
    )
    expiration = _read_expiration(violations, request.expiration)
    exchange = _read_code(violations, "exchange", request.exchange)
    trading_class = _read_code(violations, "trading_class", request.trading_class)
    per_side, strike_range = _read_window(violations, request)
    right = _OPTION_RIGHTS.get(request.right)
    if right is None:
        violations.add("right", f"unknown value {request.right}")
    heartbeat = requests.read_heartbeat_interval(
        violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
    )
    batch = request.max_quotes_per_message
    if not 0 <= batch <= MAXIMUM_QUOTES_PER_MESSAGE:
        violations.add("max_quotes_per_message", f"must be 0 to {MAXIMUM_QUOTES_PER_MESSAGE}")
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
