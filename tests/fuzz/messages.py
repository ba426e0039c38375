"""Fuzzed requests built field by field from the ibkr.v1 descriptors: odd strings, numbers at
and past their type's range, unknown enum values, Timestamps and Durations out of range,
nested and repeated fields, and raw bytes no request decodes (issue #14)."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import cast

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message

from ibkr.v1 import (
    gateway_service_pb2,
    market_data_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)

SERVICE_MODULES = (
    gateway_service_pb2,
    market_data_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)
ACCOUNT = "DU1234567"
FieldDescriptor = descriptor.FieldDescriptor


@dataclass(frozen=True)
class Method:
    """One RPC as the descriptors describe it, with its HTTP rule (None without one)."""

    path: str  # /ibkr.v1.OrderService/PlaceOrder
    input_type: descriptor.Descriptor
    server_streaming: bool
    http_rule: http_pb2.HttpRule | None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]


def all_methods() -> tuple[Method, ...]:
    """Every method of every ibkr.v1 service."""
    methods: list[Method] = []
    for module in SERVICE_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                options = method.GetOptions()
                rule = options.Extensions[annotations_pb2.http]
                methods.append(
                    Method(
                        path=f"/{service.full_name}/{method.name}",
                        input_type=method.input_type,
                        server_streaming=method.server_streaming,
                        http_rule=rule if rule.WhichOneof("pattern") else None,
                    )
                )
    return tuple(methods)


# Values that pass a field's validation, so that some requests reach the code behind it.
PLAUSIBLE: dict[str, tuple[str, ...]] = {
    "account": (ACCOUNT, ""),
    "symbol": ("AAPL", "MSFT", "SPY", "ZZZZ"),
    "currency": ("USD", ""),
    "exchange": ("SMART", ""),
    "quantity": ("1", "10", "0.5"),
    "limit_price": ("150.00", "1"),
    "stop_price": ("140.00",),
    "client_order_id": ("fuzz-1", "fuzz-2"),
    "order_id": ("ord_00000000000000000000000001",),
    "query": ("AAP", "A"),
}
ODD_STRINGS = (
    "",
    " ",
    "\x00",
    "\t\n\r",
    "-0",
    "1e400",
    "-1e-400",
    "NaN",
    "Infinity",
    "0x10",
    "1_000",
    " 10 ",
    "9" * 40,
    "0." + "0" * 60 + "1",
    "..",
    "../../etc/passwd",
    "%ff%fe",
    "a/b?c=d#e",
    "' OR 1=1 --",
    "<script>",
    "ø∂ƒ©",
    "\u202e\u200b",
    "🙂" * 3,
    "\U0010ffff",
    "ord_",
    "ord_" + "Z" * 26,
)
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
# Seconds at and past google.protobuf.Timestamp's range (0001-01-01 .. 9999-12-31).
TIMESTAMP_SECONDS = (0, 1, -1, -62_135_596_800, -62_135_596_801, 253_402_300_799, 253_402_300_800)
DURATION_SECONDS = (0, 1, -1, 5, 315_576_000_000, 315_576_000_001, -315_576_000_001)
NANOS = (0, 1, -1, 999_999_999, 1_000_000_000, -(2**31), 2**31 - 1)


def odd_string(rng: random.Random, field_name: str) -> str:
    roll = rng.random()
    if roll < 0.3 and field_name in PLAUSIBLE:
        return rng.choice(PLAUSIBLE[field_name])
    if roll < 0.6:
        return rng.choice(ODD_STRINGS)
    if roll < 0.75:
        # Odd lengths: around the bounds a parser might have, and far past them.
        length = rng.choice((1, 31, 32, 33, 64, 255, 256, 257, 1024, 8193, 70_000))
        return rng.choice(string.printable) * length
    alphabet = string.printable + "\x00\x7f\u00e9\u4e2d\U0001f600\ufeff"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


def odd_integer(rng: random.Random, field_type: int) -> int:
    low, high = INT_RANGES[field_type]
    candidates = (0, 1, -1, 2, 50, 1000, 10_001, 2**31 - 1, -(2**31), 2**53, low, high)
    value = rng.choice(candidates) if rng.random() < 0.8 else rng.randint(low, high)
    return min(max(value, low), high)


def odd_float(rng: random.Random) -> float:
    return rng.choice((0.0, -0.0, 1.5, -1.0, 1e308, -1e308, 5e-324, float("nan"), float("inf")))


def _set_well_known(message: Message, rng: random.Random) -> bool:
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        message.seconds = rng.choice((*TIMESTAMP_SECONDS, rng.randint(-(2**63), 2**63 - 1)))  # type: ignore[attr-defined]
        message.nanos = rng.choice(NANOS) if rng.random() < 0.4 else 0  # type: ignore[attr-defined]
        return True
    if name == "google.protobuf.Duration":
        message.seconds = rng.choice((*DURATION_SECONDS, rng.randint(-(2**63), 2**63 - 1)))  # type: ignore[attr-defined]
        message.nanos = rng.choice(NANOS) if rng.random() < 0.4 else 0  # type: ignore[attr-defined]
        return True
    if name == "google.protobuf.FieldMask":
        paths = ("limits.max_order_quantity", "max_open_orders", "", "limits", "nope", "a.b.c")
        message.paths.extend(rng.sample(paths, rng.randint(0, 3)))  # type: ignore[attr-defined]
        return True
    return False


def _scalar(field: FieldDescriptor, rng: random.Random) -> object:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return odd_string(rng, field.name)
    if kind == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randint(0, 64))
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return odd_float(rng)
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        known = [value.number for value in field.enum_type.values]
        # Proto3 enums are open: numbers no value names reach the server as they are.
        return rng.choice((*known, *known, -1, max(known) + 1, 2**31 - 1, -(2**31)))
    return odd_integer(rng, kind)


def _fill_field(message: Message, field: FieldDescriptor, rng: random.Random, depth: int) -> None:
    target = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key_field = field.message_type.fields_by_name["key"]
        value_field = field.message_type.fields_by_name["value"]
        for _ in range(rng.randint(0, 3)):
            key = _scalar(key_field, rng)
            if value_field.message_type is not None:
                fill_message(target[key], rng, depth + 1)
            else:
                target[key] = _scalar(value_field, rng)
        return
    if field.is_repeated:
        count = rng.choice((0, 1, 2, 3, 17, 101))
        for _ in range(count):
            if field.message_type is not None:
                fill_message(target.add(), rng, depth + 1)
            else:
                target.append(_scalar(field, rng))
        return
    if field.message_type is not None:
        fill_message(target, rng, depth + 1)
        return
    setattr(message, field.name, _scalar(field, rng))


def fill_message(message: Message, rng: random.Random, depth: int = 0) -> None:
    """Set a random subset of `message`'s fields (and of the messages inside it) to odd values;
    nested messages are sometimes set but left empty."""
    message.SetInParent()
    if _set_well_known(message, rng) or depth > 3:
        return
    # The stubs type DESCRIPTOR as the pure-Python or the upb class; both have fields.
    message_type = cast("descriptor.Descriptor", message.DESCRIPTOR)
    for field in message_type.fields:
        if rng.random() < 0.55:
            _fill_field(message, field, rng, depth)


def random_request(input_type: descriptor.Descriptor, rng: random.Random) -> Message:
    message = message_factory.GetMessageClass(input_type)()
    fill_message(message, rng)
    return message


def undecodable(message: Message, rng: random.Random) -> bytes:
    """Bytes the request type should refuse to decode, or decode to something odd: truncated,
    bad UTF-8 in a string field, a wrong wire type, a length past the end, random noise."""
    encoded = message.SerializeToString()
    choice = rng.randrange(6)
    if choice == 0 and encoded:
        return encoded[: rng.randrange(len(encoded))] or b"\x0a\x05ab"
    if choice == 1:
        return bytes([0x0A, 2, 0xFF, 0xFE]) + encoded  # field 1 as a string of bad UTF-8
    if choice == 2:
        return bytes([0x0D]) + b"\x00\x00"  # field 1 as a fixed32, cut short
    if choice == 3:
        return b"\x0a\xff\xff\xff\xff\x0f"  # a length of 4 GiB
    if choice == 4:
        return b"\x00" * rng.randint(1, 8)  # field number 0
    return rng.randbytes(rng.randint(1, 200))
