"""The portfolio: accounts, summaries, positions and PnL, read and streamed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Protocol

from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.domain.errors import AccountNotFoundError
from ibkr_grpc.domain.portfolio import (
    Account,
    AccountSummary,
    PortfolioUpdate,
    Position,
    ProfitAndLoss,
)
from ibkr_grpc.domain.streams import Heartbeat, Marker, MarkerType
from ibkr_grpc.services.conflation import ConflatingBuffer
from ibkr_grpc.services.gateway_monitor import GatewayMonitor
from ibkr_grpc.services.stream_merge import follow_buffer

PortfolioStreamItem = PortfolioUpdate | Heartbeat | Marker


class PortfolioSource(Protocol):
    def accounts(self) -> list[str]: ...
    def summary(self, account: str) -> AccountSummary: ...
    def positions(self, account: str = "") -> list[Position]: ...
    def profit_and_loss(self, account: str) -> ProfitAndLoss: ...
    def add_listener(self, listener: Callable[[PortfolioUpdate], None]) -> None: ...
    def remove_listener(self, listener: Callable[[PortfolioUpdate], None]) -> None: ...


def _key(update: PortfolioUpdate) -> tuple[str, str, int]:
    if isinstance(update, Position):
        return ("position", update.account, update.contract.con_id)
    if isinstance(update, AccountSummary):
        return ("summary", update.account, 0)
    return ("pnl", update.account, 0)


class PortfolioService:
    def __init__(
        self,
        source: PortfolioSource,
        monitor: GatewayMonitor,
        *,
        trading_mode: TradingMode,
        clock: Callable[[], datetime],
    ) -> None:
        self._source = source
        self._monitor = monitor
        self._trading_mode = trading_mode
        self._clock = clock

    def accounts(self) -> list[Account]:
        return [
            Account(account, self._trading_mode, self._source.summary(account).base_currency)
            for account in self._source.accounts()
        ]

    def require_account(self, account: str) -> None:
        """AccountNotFoundError unless the gateway manages `account`."""
        if account not in self._source.accounts():
            raise AccountNotFoundError(
                f"account {account!r} is not managed by this gateway", metadata={"account": account}
            )

    def summary(self, account: str) -> AccountSummary:
        self.require_account(account)
        return self._source.summary(account)

    def positions(self, account: str = "", symbol: str = "") -> list[Position]:
        if account:
            self.require_account(account)
        return [
            position
            for position in self._source.positions(account)
            if not symbol or position.contract.symbol == symbol
        ]

    def profit_and_loss(self, account: str) -> ProfitAndLoss:
        self.require_account(account)
        return self._source.profit_and_loss(account)

    async def follow(
        self, *, account: str, heartbeat: timedelta
    ) -> AsyncGenerator[PortfolioStreamItem]:
        """A snapshot of every account in scope, SNAPSHOT_COMPLETE, then changes, conflated
        per account and position for a slow reader."""
        if account:
            self.require_account(account)
        buffer: ConflatingBuffer[PortfolioUpdate] = ConflatingBuffer()

        def listener(update: PortfolioUpdate) -> None:
            if not account or update.account == account:
                buffer.put(_key(update), update)

        self._source.add_listener(listener)
        try:
            for name in [account] if account else self._source.accounts():
                yield self._source.summary(name)
                for position in self._source.positions(name):
                    yield position
                yield self._source.profit_and_loss(name)
            yield Marker(MarkerType.SNAPSHOT_COMPLETE, self._clock())
            live = follow_buffer(buffer, self._monitor.markers(), heartbeat, self._clock)
            async with aclosing(live) as items:
                async for item in items:
                    yield item
        finally:
            self._source.remove_listener(listener)
