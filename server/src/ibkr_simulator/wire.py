"""TWS API text framing: length-prefixed messages of NUL-terminated ASCII fields.

The codec is the only place that knows the byte layout, so a binary (protobuf) codec for
server versions >= 201 could replace it without touching the engines.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The API prefix a client sends before its first framed message.
API_PREFIX = b"API\0"
# A frame larger than this is a protocol error, not a message: real gateways refuse them too.
MAXIMUM_FRAME_BYTES = 16 * 1024 * 1024
# IB's "unset" sentinels: ib_async sends them as empty fields, so they only appear when decoding.
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer sent bytes that are not a well-formed TWS API message."""


def format_field(value: Field) -> str:
    """Render one value the way the gateway does: bools as 1/0, unset as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinite"
        if math.isnan(value):
            return ""
        # Rounded so that binary noise such as 0.1 + 0.2 never reaches the wire.
        return repr(round(value, 8))
    return str(value)


def encode_message(fields: Iterable[Field]) -> bytes:
    """Frame one message: 4-byte big-endian length, then each field NUL-terminated."""
    body = "".join(format_field(field) + "\0" for field in fields).encode()
    return struct.pack(">I", len(body)) + body


def encode_handshake_text(text: str) -> bytes:
    """Frame a raw text body (used for the client's version range in tests)."""
    body = text.encode()
    return struct.pack(">I", len(body)) + body


def decode_body(body: bytes) -> list[str]:
    """Split a frame body into its fields; the trailing NUL yields no extra field."""
    text = body.decode(errors="backslashreplace")
    fields = text.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed frame body; raises IncompleteReadError at end of stream."""
    header = await reader.readexactly(4)
    (length,) = struct.unpack(">I", header)
    if length > MAXIMUM_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes exceeds the limit")
    return await reader.readexactly(length)


@dataclass
class FieldReader:
    """Reads typed values from a decoded request, in order, tolerating a short message."""

    fields: Sequence[str]
    position: int = 0

    def remaining(self) -> int:
        return len(self.fields) - self.position

    def text(self) -> str:
        if self.position >= len(self.fields):
            self.position += 1
            return ""
        value = self.fields[self.position]
        self.position += 1
        return value

    def integer(self, default: int = 0) -> int:
        value = self.text().strip()
        if not value:
            return default
        try:
            return int(float(value))
        except ValueError as error:
            raise ProtocolError(f"expected an integer, got {value!r}") from error

    def optional_integer(self) -> int | None:
        value = self.text().strip()
        if not value:
            return None
        try:
            number = int(float(value))
        except ValueError as error:
            raise ProtocolError(f"expected an integer, got {value!r}") from error
        return None if number == UNSET_INTEGER else number

    def decimal(self, default: float = 0.0) -> float:
        value = self.optional_decimal()
        return default if value is None else value

    def optional_decimal(self) -> float | None:
        value = self.text().strip()
        if not value:
            return None
        if value == "Infinite":
            return math.inf
        try:
            number = float(value)
        except ValueError as error:
            raise ProtocolError(f"expected a number, got {value!r}") from error
        return None if number >= UNSET_DOUBLE else number

    def flag(self) -> bool:
        value = self.text().strip()
        return value not in {"", "0", "false", "False"}

    def pass_over(self, count: int) -> None:
        self.position += count
