"""Filters for listing orders and fills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ibkr_grpc.domain.enums import OrderStatus

DEFAULT_PAGE_SIZE = 50
MAXIMUM_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class OrderFilter:
    account: str = ""
    statuses: tuple[OrderStatus, ...] = ()
    symbol: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class FillFilter:
    account: str = ""
    order_id: str = ""
    symbol: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
