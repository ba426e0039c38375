"""Instruments, as the domain describes them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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

    @property
    def value_multiplier(self) -> Decimal:
        """What one point of the price is worth per contract: the multiplier ("100" for a US
        stock option, "50" for ES), 1 for contracts without one (stocks, forex)."""
        try:
            value = Decimal(self.multiplier) if self.multiplier else Decimal(1)
        except InvalidOperation:
            return Decimal(1)
        return value if value.is_finite() and value > 0 else Decimal(1)
