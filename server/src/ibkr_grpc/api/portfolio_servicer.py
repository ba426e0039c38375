"""ibkr.v1.PortfolioService: accounts, balances, positions and PnL. The requests' rules are in
portfolio_service.proto (checked before any servicer runs); whether the gateway manages an
account is the portfolio service's to say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import grpc.aio

from ibkr.v1 import common_pb2, portfolio_service_pb2, portfolio_service_pb2_grpc
from ibkr_grpc.api import requests
from ibkr_grpc.api.conversions import contract_message, timestamp
from ibkr_grpc.api.stream_messages import heartbeat_message, marker_message
from ibkr_grpc.domain.decimals import canonical_text, write_decimal
from ibkr_grpc.domain.enums import TradingMode
from ibkr_grpc.domain.errors import ViolationCollector
from ibkr_grpc.domain.portfolio import AccountSummary, Position, ProfitAndLoss
from ibkr_grpc.domain.streams import Heartbeat, Marker
from ibkr_grpc.services.portfolio import PortfolioService

Context = grpc.aio.ServicerContext[Any, Any]
TRADING_MODES = {
    TradingMode.PAPER: common_pb2.TRADING_MODE_PAPER,
    TradingMode.LIVE: common_pb2.TRADING_MODE_LIVE,
}


def summary_message(summary: AccountSummary) -> portfolio_service_pb2.AccountSummary:
    return portfolio_service_pb2.AccountSummary(
        account=summary.account,
        base_currency=summary.base_currency,
        net_liquidation=write_decimal(summary.net_liquidation),
        total_cash_value=write_decimal(summary.total_cash_value),
        settled_cash=write_decimal(summary.settled_cash),
        buying_power=write_decimal(summary.buying_power),
        available_funds=write_decimal(summary.available_funds),
        excess_liquidity=write_decimal(summary.excess_liquidity),
        equity_with_loan_value=write_decimal(summary.equity_with_loan_value),
        gross_position_value=write_decimal(summary.gross_position_value),
        initial_margin_requirement=write_decimal(summary.initial_margin_requirement),
        maintenance_margin_requirement=write_decimal(summary.maintenance_margin_requirement),
        cushion=write_decimal(summary.cushion),
        day_trades_remaining=summary.day_trades_remaining,
        values=[
            portfolio_service_pb2.AccountValue(
                tag=v.tag, value=canonical_text(v.value), currency=v.currency
            )
            for v in summary.values
        ],
        update_time=timestamp(summary.update_time),
    )


def position_message(position: Position) -> portfolio_service_pb2.Position:
    # IB's averageCost of an option or a future is per contract (the multiplier included);
    # average_price puts it per unit, beside market_price.
    multiplier = position.contract.value_multiplier
    cost = position.average_cost
    return portfolio_service_pb2.Position(
        account=position.account,
        contract=contract_message(position.contract),
        quantity=write_decimal(position.quantity),
        average_cost=write_decimal(position.average_cost),
        market_price=write_decimal(position.market_price),
        market_value=write_decimal(position.market_value),
        unrealized_pnl=write_decimal(position.unrealized_pnl),
        realized_pnl=write_decimal(position.realized_pnl),
        daily_pnl=write_decimal(position.daily_pnl),
        currency=position.currency,
        update_time=timestamp(position.update_time),
        multiplier=write_decimal(multiplier),
        average_price=write_decimal(cost / multiplier if cost is not None else None),
    )


def pnl_message(pnl: ProfitAndLoss) -> portfolio_service_pb2.PnL:
    return portfolio_service_pb2.PnL(
        account=pnl.account,
        daily_pnl=write_decimal(pnl.daily_pnl),
        unrealized_pnl=write_decimal(pnl.unrealized_pnl),
        realized_pnl=write_decimal(pnl.realized_pnl),
        update_time=timestamp(pnl.update_time),
    )


class PortfolioServicer(portfolio_service_pb2_grpc.PortfolioServiceServicer):
    def __init__(self, portfolio: PortfolioService) -> None:
        self._portfolio = portfolio

    async def ListAccounts(
        self, request: portfolio_service_pb2.ListAccountsRequest, context: Context
    ) -> portfolio_service_pb2.ListAccountsResponse:
        return portfolio_service_pb2.ListAccountsResponse(
            accounts=[
                portfolio_service_pb2.Account(
                    account_id=account.account_id,
                    trading_mode=TRADING_MODES[account.trading_mode],
                    base_currency=account.base_currency,
                )
                for account in self._portfolio.accounts()
            ]
        )

    async def GetAccountSummary(
        self, request: portfolio_service_pb2.GetAccountSummaryRequest, context: Context
    ) -> portfolio_service_pb2.GetAccountSummaryResponse:
        summary = self._portfolio.summary(request.account)
        return portfolio_service_pb2.GetAccountSummaryResponse(summary=summary_message(summary))

    async def ListPositions(
        self, request: portfolio_service_pb2.ListPositionsRequest, context: Context
    ) -> portfolio_service_pb2.ListPositionsResponse:
        positions = self._portfolio.positions(request.account, request.symbol.upper())
        return portfolio_service_pb2.ListPositionsResponse(
            positions=[position_message(position) for position in positions]
        )

    async def GetPnL(
        self, request: portfolio_service_pb2.GetPnLRequest, context: Context
    ) -> portfolio_service_pb2.GetPnLResponse:
        pnl = self._portfolio.profit_and_loss(request.account)
        return portfolio_service_pb2.GetPnLResponse(pnl=pnl_message(pnl))

    def StreamPortfolio(
        self, request: portfolio_service_pb2.StreamPortfolioRequest, context: Context
    ) -> AsyncIterator[portfolio_service_pb2.StreamPortfolioResponse]:
        # Validates now and returns the stream: a bad request fails before anything is sent.
        violations = ViolationCollector()
        heartbeat = requests.read_heartbeat_interval(
            violations, request.heartbeat_interval, present=request.HasField("heartbeat_interval")
        )
        violations.raise_if_any()
        if request.account:
            self._portfolio.require_account(request.account)
        return self._updates(request.account, heartbeat)

    async def _updates(
        self, account: str, heartbeat: timedelta
    ) -> AsyncIterator[portfolio_service_pb2.StreamPortfolioResponse]:
        response = portfolio_service_pb2.StreamPortfolioResponse
        updates = self._portfolio.follow(account=account, heartbeat=heartbeat)
        async with aclosing(updates) as items:
            async for item in items:
                if isinstance(item, AccountSummary):
                    yield response(account_summary=summary_message(item))
                elif isinstance(item, Position):
                    yield response(position=position_message(item))
                elif isinstance(item, ProfitAndLoss):
                    yield response(pnl=pnl_message(item))
                elif isinstance(item, Heartbeat):
                    yield response(heartbeat=heartbeat_message(item))
                elif isinstance(item, Marker):
                    yield response(marker=marker_message(item))
