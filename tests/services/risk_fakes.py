"""Hand-written stand-ins for what the risk engine and the trading control read and write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ibkr_grpc.domain.audit import AuditEntry
from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.orders import Order
from ibkr_grpc.domain.portfolio import Position, ProfitAndLoss
from ibkr_grpc.domain.risk import RiskLimits, TradingState
from tests.support.builders import EPOCH


class FakeRiskRepository:
    """Limits and trading states in memory; `failing` makes every save_state raise."""

    def __init__(self, states: Sequence[TradingState] = ()) -> None:
        self.limits: RiskLimits | None = None
        self.states: dict[str, TradingState] = {state.account: state for state in states}
        self.saves: list[TradingState] = []
        self.failing = False

    async def load_limits(self) -> RiskLimits | None:
        return self.limits

    async def save_limits(self, limits: RiskLimits, *, updated_by: str, now: datetime) -> None:
        del updated_by, now
        self.limits = limits

    async def load_states(self) -> list[TradingState]:
        return list(self.states.values())

    async def save_state(self, state: TradingState) -> None:
        if self.failing:
            message = "the database is unreachable"
            raise ConnectionError(message)
        self.states[state.account] = state
        self.saves.append(state)


class FakeWorkingOrders:
    def __init__(self, orders: Sequence[Order] = ()) -> None:
        self.orders = list(orders)
        self.reads = 0

    async def working_orders(self, account: str = "") -> list[Order]:
        self.reads += 1
        return [order for order in self.orders if account in {"", order.account}]


class FakeExposure:
    def __init__(
        self, positions: Sequence[Position] = (), daily_pnl: Decimal | None = None
    ) -> None:
        self.held = list(positions)
        self.daily_pnl = daily_pnl

    def positions(self, account: str = "") -> list[Position]:
        return [p for p in self.held if account in {"", p.account}]

    def profit_and_loss(self, account: str) -> ProfitAndLoss:
        return ProfitAndLoss(account, EPOCH, daily_pnl=self.daily_pnl)


class FakeAuditor:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


def position(quantity: str, *, account: str = "DU1234567", price: str = "100") -> Position:
    return Position(
        account=account,
        contract=ContractSpec(symbol="AAPL"),
        quantity=Decimal(quantity),
        average_cost=Decimal(price),
        update_time=EPOCH,
        market_price=Decimal(price),
        market_value=Decimal(quantity) * Decimal(price),
    )
