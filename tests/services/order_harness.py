"""The order manager on a real SQLite store, a real risk engine and trading control, and the
fake broker: the fast layer's harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibkr_grpc.domain.contracts import ContractSpec
from ibkr_grpc.domain.enums import OrderEventType, OrderType, Side, TimeInForce
from ibkr_grpc.domain.errors import ServiceUnavailableError
from ibkr_grpc.domain.orders import BracketLegs, Order, OrderEvent, OrderIntent, OrderTerms
from ibkr_grpc.domain.risk import RiskLimits
from ibkr_grpc.services.order_manager import (
    DEFAULT_COMMAND_QUEUE_LIMIT,
    OrderManager,
    PreTradeChecks,
)
from ibkr_grpc.services.ports import EventDraft, MarketView
from ibkr_grpc.services.risk_engine import RiskEngine
from ibkr_grpc.services.trading_control import TradingControl
from ibkr_grpc.store.order_store import OrderStore
from tests.services.fake_broker import ACCOUNT, FakeBroker
from tests.services.risk_fakes import FakeAuditor, FakeExposure, FakeRiskRepository
from tests.support.databases import migrated_database


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutageStore(OrderStore):
    """The real store, whose writes fail as an unreachable database's do while `down` is set."""

    down = False
    failures = 0

    async def create_orders(self, *args: Any, **kwargs: Any) -> list[OrderEvent]:
        self._fail_if_down()
        return await super().create_orders(*args, **kwargs)

    async def record(self, drafts: Sequence[EventDraft]) -> list[OrderEvent]:
        self._fail_if_down()
        return await super().record(drafts)

    def _fail_if_down(self) -> None:
        if self.down:
            self.failures += 1
            message = "the database is unreachable"
            raise ServiceUnavailableError(message)


@dataclass
class Harness:
    manager: OrderManager
    broker: FakeBroker
    store: OutageStore
    risk: RiskEngine
    trading: TradingControl
    exposure: FakeExposure

    async def limit(self, **limits: object) -> None:
        await self.risk.update(RiskLimits(**limits), updated_by="test")  # type: ignore[arg-type]

    async def events(self, order_id: str) -> list[OrderEvent]:
        return [
            e
            for e in await self.store.events_after(0, limit=10_000)
            if e.order.order_id == order_id
        ]

    async def event_types(self, order_id: str) -> list[OrderEventType]:
        return [event.event_type for event in await self.events(order_id)]

    async def order(self, order_id: str) -> Order:
        return await self.store.get(order_id)


@asynccontextmanager
async def harness(
    folder: Path,
    *,
    acknowledgement_timeout: float = 5.0,
    broker: FakeBroker | None = None,
    market: MarketView | None = None,
    command_queue_limit: int = DEFAULT_COMMAND_QUEUE_LIMIT,
) -> AsyncIterator[Harness]:
    async with migrated_database("sqlite", folder) as database:
        store = OutageStore(database)
        broker = broker or FakeBroker()
        exposure = FakeExposure()
        risk = RiskEngine(FakeRiskRepository(), store, exposure, clock=utc_now)
        trading = TradingControl(
            FakeRiskRepository(), FakeAuditor(), limits=risk.limits, clock=utc_now
        )
        manager = OrderManager(
            store,
            broker,
            clock=utc_now,
            acknowledgement_timeout=timedelta(seconds=acknowledgement_timeout),
            checks=PreTradeChecks(risk, trading),
            market=market,
            command_queue_limit=command_queue_limit,
        )
        broker.listener = manager
        manager.start()
        try:
            yield Harness(manager, broker, store, risk, trading, exposure)
        finally:
            await manager.stop()
            await trading.stop()


def intent(
    key: str,
    *,
    side: Side = Side.BUY,
    quantity: str = "10",
    limit_price: str | None = "100",
    take_profit: str | None = None,
    stop_loss: str | None = None,
    account: str = ACCOUNT,
) -> OrderIntent:
    order_type = OrderType.LIMIT if limit_price is not None else OrderType.MARKET
    return OrderIntent(
        account=account,
        contract=ContractSpec(symbol="AAPL"),
        terms=OrderTerms(
            side=side,
            quantity=Decimal(quantity),
            order_type=order_type,
            limit_price=Decimal(limit_price) if limit_price is not None else None,
            time_in_force=TimeInForce.DAY,
        ),
        legs=BracketLegs(
            take_profit_limit_price=Decimal(take_profit) if take_profit else None,
            stop_loss_stop_price=Decimal(stop_loss) if stop_loss else None,
        ),
        client_order_id=key,
    )
