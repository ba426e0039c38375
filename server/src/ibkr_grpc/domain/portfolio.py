"""Accounts, balances, positions and PnL, as the domain describes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import TradingMode


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    trading_mode: TradingMode
    base_currency: str


@dataclass(frozen=True, slots=True)
class AccountValue:
    tag: str
    value: str
    currency: str


@dataclass(frozen=True, slots=True)
class AccountSummary:
    account: str
    base_currency: str
    update_time: datetime
    net_liquidation: Decimal | None = None
    total_cash_value: Decimal | None = None
    settled_cash: Decimal | None = None
    buying_power: Decimal | None = None
    available_funds: Decimal | None = None
    excess_liquidity: Decimal | None = None
    equity_with_loan_value: Decimal | None = None
    gross_position_value: Decimal | None = None
    initial_margin_requirement: Decimal | None = None
    maintenance_margin_requirement: Decimal | None = None
    cushion: Decimal | None = None
    day_trades_remaining: int = -1
    values: tuple[AccountValue, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Position:
    account: str
    contract: ContractSpec
    quantity: Decimal
    average_cost: Decimal | None
    update_time: datetime
    market_price: Decimal | None = None
    market_value: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    daily_pnl: Decimal | None = None
    currency: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.account, self.contract.con_id)


@dataclass(frozen=True, slots=True)
class ProfitAndLoss:
    account: str
    update_time: datetime
    daily_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None


PortfolioUpdate = AccountSummary | Position | ProfitAndLoss
