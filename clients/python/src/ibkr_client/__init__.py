"""A small typed asyncio layer over the generated ibkr.v1 stubs.

IbkrClient sets up the channel with auth metadata, request ids and default deadlines, and
follows order events and quotes across dropped streams (follow_order_events, follow_quotes);
format_decimal / parse_decimal convert the API's exact decimal strings; ApiError reads the
error catalogue's rich details. The generated messages live in the `ibkr.v1` package.
"""

from ibkr_client.client import DEFAULT_TARGET, IbkrClient
from ibkr_client.decimals import format_decimal, parse_decimal
from ibkr_client.errors import ApiError, FieldViolation, PreconditionViolation
from ibkr_client.metadata import new_request_id
from ibkr_client.order_events import OrderEventFollower, OrderEventSequenceError, OrderStreamItem
from ibkr_client.quotes import QuoteFollower, QuoteStreamItem
from ibkr_client.resilient_stream import Reconnect, ReconnectOptions, StreamEndedError
from ibkr_client.retry import RetryPolicy, is_retryable

__all__ = [
    "DEFAULT_TARGET",
    "ApiError",
    "FieldViolation",
    "IbkrClient",
    "OrderEventFollower",
    "OrderEventSequenceError",
    "OrderStreamItem",
    "PreconditionViolation",
    "QuoteFollower",
    "QuoteStreamItem",
    "Reconnect",
    "ReconnectOptions",
    "RetryPolicy",
    "StreamEndedError",
    "format_decimal",
    "is_retryable",
    "new_request_id",
    "parse_decimal",
]
