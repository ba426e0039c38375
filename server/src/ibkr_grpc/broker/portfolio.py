"""Account values, positions and PnL from ib_async's live subscriptions, as domain values.

Each open position also has its own PnL subscription (reqPnLSingle), for its daily PnL: opened
when a position appears, cancelled when it closes, and opened again after every reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ib_async import IB, PnL, PnLSingle, PortfolioItem
from ib_async import AccountValue as IbAccountValue
from ib_async import Position as IbPosition

from ibkr_grpc.broker.request_limiter import RequestLimiter
from ibkr_grpc.broker.translation import contract_spec, decimal_of
from ibkr_grpc.domain.portfolio import (
    AccountSummary,
    AccountValue,
    PortfolioUpdate,
    Position,
    ProfitAndLoss,
)

UpdateListener = Callable[[PortfolioUpdate], None]

# IB's account tags for the summary's named fields.
_SUMMARY_TAGS = {
    "NetLiquidation": "net_liquidation",
    "TotalCashValue": "total_cash_value",
    "SettledCash": "settled_cash",
    "BuyingPower": "buying_power",
    "AvailableFunds": "available_funds",
    "ExcessLiquidity": "excess_liquidity",
    "EquityWithLoanValue": "equity_with_loan_value",
    "GrossPositionValue": "gross_position_value",
    "InitMarginReq": "initial_margin_requirement",
    "MaintMarginReq": "maintenance_margin_requirement",
    "Cushion": "cushion",
}


def _decimal_text(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


class PortfolioReader:
    """Reads and follows the session's account, portfolio and PnL subscriptions."""

    def __init__(self, ib: IB, limiter: RequestLimiter, *, clock: Callable[[], datetime]) -> None:
        self._ib = ib
        self._limiter = limiter
        self._clock = clock
        self._listeners: list[UpdateListener] = []
        # Position PnL subscriptions being opened or cancelled, owned here until done.
        self._requests: set[asyncio.Task[None]] = set()
        ib.accountValueEvent += self._on_account_value
        ib.updatePortfolioEvent += self._on_portfolio_item
        ib.positionEvent += self._on_position
        ib.pnlEvent += self._on_pnl
        ib.pnlSingleEvent += self._on_position_pnl

    def add_listener(self, listener: UpdateListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: UpdateListener) -> None:
        self._listeners.remove(listener)

    async def subscribe(self) -> None:
        """After every (re)connect: ib_async resubscribes nothing by itself."""
        subscribed = {pnl.account for pnl in self._ib.pnl()}
        for account in self._ib.managedAccounts():
            if account not in subscribed:
                await self._limiter.acquire("pnl")
                self._ib.reqPnL(account)
        for position in self._ib.positions():
            if position.position:
                await self._follow_position(position.account, position.contract.conId)

    async def stop(self) -> None:
        requests, self._requests = self._requests, set()
        for request in requests:
            request.cancel()
        await asyncio.gather(*requests, return_exceptions=True)

    def _position_pnl(self, account: str, con_id: int) -> PnLSingle | None:
        found = self._ib.pnlSingle(account, "", con_id)
        return found[0] if found else None

    async def _follow_position(self, account: str, con_id: int) -> None:
        if self._position_pnl(account, con_id) is not None:
            return
        await self._limiter.acquire("pnl_single")
        # Checked again after the wait: another request may have opened it meanwhile.
        if self._ib.isConnected() and self._position_pnl(account, con_id) is None:
            self._ib.reqPnLSingle(account, "", con_id)

    async def _unfollow_position(self, account: str, con_id: int) -> None:
        if self._position_pnl(account, con_id) is None:
            return
        await self._limiter.acquire("cancel_pnl_single")
        if self._ib.isConnected() and self._position_pnl(account, con_id) is not None:
            self._ib.cancelPnLSingle(account, "", con_id)

    def _request(self, request: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(request, name="position-pnl")
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def summary(self, account: str) -> AccountSummary:
        values = [v for v in self._ib.accountValues(account) if not v.modelCode]
        base = next((v.value for v in values if v.tag == "BaseCurrency"), "") or next(
            (
                v.currency
                for v in values
                if v.tag == "NetLiquidation" and v.currency not in {"", "BASE"}
            ),
            "USD",
        )
        named: dict[str, Decimal | None] = {}
        for value in values:
            field = _SUMMARY_TAGS.get(value.tag)
            if field is not None and value.currency in {base, ""}:
                named[field] = _decimal_text(value.value)
        day_trades = next((v.value for v in values if v.tag == "DayTradesRemaining"), "-1")
        try:
            remaining = int(day_trades)
        except ValueError:
            remaining = -1
        return AccountSummary(
            account=account,
            base_currency=base,
            update_time=self._clock(),
            day_trades_remaining=remaining,
            values=tuple(AccountValue(v.tag, v.value, v.currency) for v in values),
            **named,
        )

    def positions(self, account: str = "") -> list[Position]:
        """Portfolio items (with market value and PnL) where IB sends them, positions otherwise."""
        now = self._clock()
        items = {
            (item.account, item.contract.conId): self._from_item(item, now)
            for item in self._ib.portfolio(account)
        }
        for position in self._ib.positions(account):
            key = (position.account, position.contract.conId)
            if key not in items:
                items[key] = self._from_position(position, now)
        return [position for position in items.values() if position.quantity != 0]

    def profit_and_loss(self, account: str) -> ProfitAndLoss:
        for pnl in self._ib.pnl(account):
            return self._from_pnl(pnl)
        return ProfitAndLoss(account, self._clock())

    def accounts(self) -> list[str]:
        return list(self._ib.managedAccounts())

    # ---- events --------------------------------------------------------------------------

    def _emit(self, update: PortfolioUpdate) -> None:
        for listener in tuple(self._listeners):
            listener(update)

    def _on_account_value(self, value: IbAccountValue) -> None:
        if value.tag in _SUMMARY_TAGS and not value.modelCode:
            self._emit(self.summary(value.account))

    def _on_portfolio_item(self, item: PortfolioItem) -> None:
        self._emit(self._from_item(item, self._clock()))

    def _on_position(self, position: IbPosition) -> None:
        self._emit(self._from_position(position, self._clock()))
        account, con_id = position.account, position.contract.conId
        followed = self._position_pnl(account, con_id) is not None
        if position.position and not followed:
            self._request(self._follow_position(account, con_id))
        elif not position.position and followed:
            self._request(self._unfollow_position(account, con_id))

    def _on_pnl(self, pnl: PnL) -> None:
        self._emit(self._from_pnl(pnl))

    def _on_position_pnl(self, pnl: PnLSingle) -> None:
        now = self._clock()
        for item in self._ib.portfolio(pnl.account):
            if item.contract.conId == pnl.conId:
                self._emit(self._from_item(item, now))
                return
        for position in self._ib.positions(pnl.account):
            if position.contract.conId == pnl.conId and position.position:
                self._emit(self._from_position(position, now))
                return

    def _from_item(self, item: PortfolioItem, now: datetime) -> Position:
        return Position(
            account=item.account,
            contract=contract_spec(item.contract),
            quantity=decimal_of(item.position) or Decimal(0),
            average_cost=decimal_of(item.averageCost),
            update_time=now,
            market_price=decimal_of(item.marketPrice),
            market_value=decimal_of(item.marketValue),
            unrealized_pnl=decimal_of(item.unrealizedPNL),
            realized_pnl=decimal_of(item.realizedPNL),
            daily_pnl=self._daily_pnl(item.account, item.contract.conId),
            currency=item.contract.currency,
        )

    def _from_position(self, position: IbPosition, now: datetime) -> Position:
        return Position(
            account=position.account,
            contract=contract_spec(position.contract),
            quantity=decimal_of(position.position) or Decimal(0),
            average_cost=decimal_of(position.avgCost),
            update_time=now,
            daily_pnl=self._daily_pnl(position.account, position.contract.conId),
            currency=position.contract.currency,
        )

    def _daily_pnl(self, account: str, con_id: int) -> Decimal | None:
        pnl = self._position_pnl(account, con_id)
        return decimal_of(pnl.dailyPnL) if pnl is not None else None

    def _from_pnl(self, pnl: PnL) -> ProfitAndLoss:
        return ProfitAndLoss(
            account=pnl.account,
            update_time=self._clock(),
            daily_pnl=decimal_of(pnl.dailyPnL),
            unrealized_pnl=decimal_of(pnl.unrealizedPnL),
            realized_pnl=decimal_of(pnl.realizedPnL),
        )
