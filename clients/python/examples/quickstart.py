"""Quickstart: read the gateway's state, a quote and the portfolio, then dry-run an order.

Run it against the demo (`make demo`) or any ibkr-grpc server:

    .venv/bin/python clients/python/examples/quickstart.py --target 127.0.0.1:50051 --token "$TOKEN"

Nothing is sent to IB: the order is placed with validate_only, which runs every check and
returns a preview.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from decimal import Decimal

import grpc.aio

from ibkr.v1 import (
    common_pb2,
    gateway_service_pb2,
    market_data_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
)
from ibkr_client import DEFAULT_TARGET, ApiError, IbkrClient, format_decimal, parse_decimal


async def quickstart(target: str, token: str | None, symbol: str) -> None:
    async with IbkrClient.connect(target, token=token) as client:
        gateway = await client.gateway.GetGatewayStatus(
            gateway_service_pb2.GetGatewayStatusRequest()
        )
        state = gateway_service_pb2.ConnectionState.Name(gateway.status.state)
        print(f"gateway: {state}, accounts {list(gateway.status.managed_accounts)}")

        accounts = await client.portfolio.ListAccounts(portfolio_service_pb2.ListAccountsRequest())
        account = accounts.accounts[0].account_id
        summary = await client.portfolio.GetAccountSummary(
            portfolio_service_pb2.GetAccountSummaryRequest(account=account)
        )
        print(f"{account}: net liquidation {summary.summary.net_liquidation}")

        contract = common_pb2.Contract(
            symbol=symbol,
            security_type=common_pb2.SECURITY_TYPE_STOCK,
            exchange="SMART",
            currency="USD",
        )
        quote = (
            await client.market_data.GetQuote(
                market_data_service_pb2.GetQuoteRequest(contract=contract)
            )
        ).quote
        print(f"{symbol}: bid {quote.bid} ask {quote.ask} last {quote.last}")

        # A limit buy one percent under the bid, as a dry run: decimals stay exact end to end.
        bid = parse_decimal(quote.bid) or Decimal(100)
        limit = (bid * Decimal("0.99")).quantize(Decimal("0.01"))
        placed = await client.orders.PlaceOrder(
            order_service_pb2.PlaceOrderRequest(
                account=account,
                contract=contract,
                side=common_pb2.SIDE_BUY,
                quantity=format_decimal(10),
                order_type=order_service_pb2.ORDER_TYPE_LIMIT,
                limit_price=format_decimal(limit),
                time_in_force=order_service_pb2.TIME_IN_FORCE_DAY,
                validate_only=True,
                client_order_id=f"quickstart-{uuid.uuid4().hex[:12]}",
            )
        )
        print(f"dry run: notional {placed.preview.notional} {placed.preview.currency}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", default=os.environ.get("IBKR_GRPC_TARGET", DEFAULT_TARGET))
    parser.add_argument("--token", default=os.environ.get("IBKR_GRPC_TOKEN"))
    parser.add_argument("--symbol", default="AAPL")
    arguments = parser.parse_args()
    try:
        asyncio.run(quickstart(arguments.target, arguments.token, arguments.symbol))
    except grpc.aio.AioRpcError as failure:
        error = ApiError.from_rpc_error(failure)
        print(f"failed: {error}", file=sys.stderr)
        for violation in error.field_violations:
            print(f"  {violation.field}: {violation.description}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
