"""Instruments, as the domain describes them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ibkr_grpc.domain.enums import OptionRight, SecurityType


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """An instrument: con_id alone identifies it; otherwise symbol and the rest do."""

    symbol: str
    security_type: SecurityType = SecurityType.STOCK
    exchange: str = "SMART"
    currency: str = "USD"
    con_id: int = 0
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    last_trade_date_or_contract_month: str = ""
    strike: Decimal | None = None
    right: OptionRight = OptionRight.NONE
    multiplier: str = ""

    @property
    def display_name(self) -> str:
        return self.local_symbol or self.symbol
