"""A small typed asyncio layer over the generated ibkr.v1 stubs.

IbkrClient sets up the channel with auth metadata, request ids and default deadlines;
format_decimal / parse_decimal convert the API's exact decimal strings; ApiError reads the
error catalogue's rich details. The generated messages live in the `ibkr.v1` package.
"""

from ibkr_client.client import DEFAULT_TARGET, IbkrClient
from ibkr_client.decimals import format_decimal, parse_decimal
from ibkr_client.errors import ApiError, FieldViolation, PreconditionViolation
from ibkr_client.metadata import new_request_id

__all__ = [
    "DEFAULT_TARGET",
    "ApiError",
    "FieldViolation",
    "IbkrClient",
    "PreconditionViolation",
    "format_decimal",
    "new_request_id",
    "parse_decimal",
]
