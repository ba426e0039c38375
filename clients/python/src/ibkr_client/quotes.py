"""Follow StreamQuotes across dropped streams: resubscribe with backoff, quotes one at a time.

Quotes have no sequence and the server conflates them (a reader gets the latest quote per
contract, never a backlog), so nothing is replayed after a drop: the reopened stream starts with
the latest quote the server holds for each contract, then follows the changes. Changes during
the outage are lost, as conflation would lose them for a slow reader anyway.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, Sequence
from datetime import timedelta
from types import TracebackType

from google.protobuf import duration_pb2

from ibkr.v1 import common_pb2, market_data_service_pb2, market_data_service_pb2_grpc
from ibkr_client.resilient_stream import ReconnectOptions, StreamCall, resilient_messages

QuoteStreamItem = (
    market_data_service_pb2.Quote
    | market_data_service_pb2.SubscriptionError
    | common_pb2.StreamMarker
)

# StreamQuotesRequest.max_quotes_per_message: 0 or 1 sends single quotes, up to 100 batches.
MAXIMUM_QUOTES_PER_MESSAGE = 100


class QuoteFollower:
    """An async iterator over StreamQuotes that resubscribes by itself (see
    IbkrClient.follow_quotes). Batches (max_quotes_per_message of 2 or more) are handed out one
    quote at a time, in the order the server wrote them. `reconnects` counts the reopened
    streams."""

    def __init__(
        self,
        stub: market_data_service_pb2_grpc.MarketDataServiceAsyncStub,
        contracts: Sequence[common_pb2.Contract],
        *,
        max_quotes_per_message: int,
        heartbeat_interval: timedelta,
        options: ReconnectOptions,
    ) -> None:
        if not contracts:
            raise ValueError("give at least one contract")
        if not 0 <= max_quotes_per_message <= MAXIMUM_QUOTES_PER_MESSAGE:
            raise ValueError(f"max_quotes_per_message must be 0 to {MAXIMUM_QUOTES_PER_MESSAGE}")
        heartbeat = duration_pb2.Duration()
        heartbeat.FromTimedelta(heartbeat_interval)
        self._request = market_data_service_pb2.StreamQuotesRequest(
            contracts=contracts,
            heartbeat_interval=heartbeat,
            max_quotes_per_message=max_quotes_per_message,
        )
        self._stub = stub
        self._options = options
        self._idle_timeout = options.idle_timeout or 3 * heartbeat_interval
        self._pending: deque[QuoteStreamItem] = deque()
        self._messages: AsyncGenerator[market_data_service_pb2.StreamQuotesResponse] | None = None
        self.reconnects = -1

    def _open(self) -> StreamCall[market_data_service_pb2.StreamQuotesResponse]:
        self.reconnects += 1
        return self._stub.StreamQuotes(self._request)

    def __aiter__(self) -> QuoteFollower:
        return self

    async def __anext__(self) -> QuoteStreamItem:
        if self._pending:
            return self._pending.popleft()
        if self._messages is None:
            self._messages = resilient_messages(
                self._open, self._options, idle_timeout=self._idle_timeout, name="quotes"
            )
        async for message in self._messages:
            kind = message.WhichOneof("payload")
            if kind == "quote":
                return message.quote
            if kind == "quotes" and message.quotes.quotes:
                self._pending.extend(message.quotes.quotes)
                return self._pending.popleft()
            if kind == "subscription_error":
                return message.subscription_error
            if kind == "marker":
                return message.marker
            # A heartbeat only proves the stream alive; a payload newer than this client is
            # skipped too.
        raise StopAsyncIteration  # closed by aclose()

    async def aclose(self) -> None:
        """Cancel the stream in progress; iterating afterwards ends at once."""
        self._pending.clear()
        if self._messages is not None:
            await self._messages.aclose()

    async def __aenter__(self) -> QuoteFollower:
        return self

    async def __aexit__(
        self,
        exception_type: type[BaseException] | None,
        exception: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
