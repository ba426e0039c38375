"""ibkr.v1.OptionService: option chains and chain streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import timedelta
from typing import Any

import grpc.aio

from ibkr.v1 import market_data_service_pb2, option_service_pb2, option_service_pb2_grpc
from ibkr_grpc.api.conversions import contract_message
from ibkr_grpc.api.market_data_servicer import failure_message, quote_message
from ibkr_grpc.api.option_requests import read_get_option_chain, read_stream_option_chain
from ibkr_grpc.api.stream_messages import heartbeat_message, marker_message
from ibkr_grpc.domain.decimals import write_decimal
from ibkr_grpc.domain.market_data import Quote, QuoteBatch, SubscriptionFailure
from ibkr_grpc.domain.options import ChainStrike, ChainWindow, ChainWindowRequest, OptionChain
from ibkr_grpc.domain.streams import Heartbeat
from ibkr_grpc.services.option_chains import OptionChainService

Context = grpc.aio.ServicerContext[Any, Any]
pb = option_service_pb2
# One quote goes to every chain stream that watches its option: encoded once (by identity,
# holding the quote so its id is not reused while cached), at most this many kept.
ENCODED_QUOTES = 4096


def chain_message(chain: OptionChain) -> pb.OptionChain:
    return pb.OptionChain(
        exchange=chain.exchange,
        trading_class=chain.trading_class,
        multiplier=chain.multiplier,
        expirations=list(chain.expirations),
        strikes=[write_decimal(strike) for strike in chain.strikes],
        underlying_con_id=chain.underlying_con_id,
    )


def _strike_message(row: ChainStrike) -> pb.OptionChainStrike:
    message = pb.OptionChainStrike(strike=write_decimal(row.strike))
    if row.call is not None:
        message.call.CopyFrom(contract_message(row.call))
    if row.put is not None:
        message.put.CopyFrom(contract_message(row.put))
    return message


def window_message(window: ChainWindow) -> pb.OptionChainWindow:
    return pb.OptionChainWindow(
        underlying=contract_message(window.underlying),
        expiration=window.expiration,
        exchange=window.exchange,
        trading_class=window.trading_class,
        multiplier=window.multiplier,
        reference_price=write_decimal(window.reference_price),
        at_the_money_strike=write_decimal(window.at_the_money_strike),
        strikes=[_strike_message(row) for row in window.strikes],
    )


class OptionServicer(option_service_pb2_grpc.OptionServiceServicer):
    def __init__(self, chains: OptionChainService) -> None:
        self._chains = chains
        self._encoded: dict[int, tuple[Quote, market_data_service_pb2.Quote]] = {}

    def _quote(self, quote: Quote) -> market_data_service_pb2.Quote:
        cached = self._encoded.get(id(quote))
        if cached is not None and cached[0] is quote:
            return cached[1]
        if len(self._encoded) >= ENCODED_QUOTES:
            self._encoded.clear()
        message = quote_message(quote)
        self._encoded[id(quote)] = (quote, message)
        return message

    async def GetOptionChain(
        self, request: pb.GetOptionChainRequest, context: Context
    ) -> pb.GetOptionChainResponse:
        underlying, exchange = read_get_option_chain(request)
        qualified, chains = await self._chains.chains(underlying, exchange)
        return pb.GetOptionChainResponse(
            underlying=contract_message(qualified),
            chains=[chain_message(chain) for chain in chains],
        )

    def StreamOptionChain(
        self, request: pb.StreamOptionChainRequest, context: Context
    ) -> AsyncIterator[pb.StreamOptionChainResponse]:
        # Validates now and returns the stream: a bad request fails before anything is sent.
        window, heartbeat, batch = read_stream_option_chain(request)
        return self._stream(window, heartbeat, batch)

    async def _stream(
        self, window: ChainWindowRequest, heartbeat: timedelta, batch: int
    ) -> AsyncIterator[pb.StreamOptionChainResponse]:
        stream = self._chains.stream(window, heartbeat, batch=batch)
        async with aclosing(stream) as items:
            async for item in items:
                if isinstance(item, Quote):
                    yield pb.StreamOptionChainResponse(quote=self._quote(item))
                elif isinstance(item, QuoteBatch):
                    quotes = [self._quote(quote) for quote in item.quotes]
                    yield pb.StreamOptionChainResponse(
                        quotes=market_data_service_pb2.QuoteBatch(quotes=quotes)
                    )
                elif isinstance(item, ChainWindow):
                    yield pb.StreamOptionChainResponse(window=window_message(item))
                elif isinstance(item, SubscriptionFailure):
                    yield pb.StreamOptionChainResponse(subscription_error=failure_message(item))
                elif isinstance(item, Heartbeat):
                    yield pb.StreamOptionChainResponse(heartbeat=heartbeat_message(item))
                else:
                    yield pb.StreamOptionChainResponse(marker=marker_message(item))
