"""Fuzzed HTTP/JSON requests for the routes in the google.api.http annotations: odd path
parameters, query strings and JSON bodies (wrong types, values out of range, bad JSON)."""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from urllib.parse import quote

from google.protobuf import descriptor

from tests.fuzz.messages import FieldDescriptor, Method, odd_float, odd_integer, odd_string

_VARIABLE = re.compile(r"\{([a-z_.]+)\}")
TIMESTAMPS = (
    "2026-11-02T15:00:00Z",
    "2026-11-02T15:00:00.123456789+01:00",
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-13-45T25:61:61Z",
    "yesterday",
    "",
)
DURATIONS = ("5s", "0.5s", "-5s", "1e30s", "315576000001s", "4611686018427387904s", "s", "5")


@dataclass(frozen=True)
class HttpRequest:
    verb: str
    target: str  # path and query string, as sent
    body: bytes | None
    streaming: bool


def _json_scalar(field: FieldDescriptor, rng: random.Random) -> object:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return odd_string(rng, field.name)
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.choice((True, False, "true", 1))
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        names = [value.name for value in field.enum_type.values]
        return rng.choice((*names, *names, "NOT_A_VALUE", 999, -1, ""))
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        value = odd_float(rng)
        return value if math.isfinite(value) else str(value)
    if kind == FieldDescriptor.TYPE_BYTES:
        return rng.choice(("AAEC", "not base64!", ""))
    # Integers: in range, past 64 bits, as strings, as fractions.
    return rng.choice((odd_integer(rng, kind), 2**70, -(2**70), "12", "1.5", 1.5, "x"))


def _json_message(message_type: descriptor.Descriptor, rng: random.Random, depth: int) -> object:
    name = message_type.full_name
    if name == "google.protobuf.Timestamp":
        return rng.choice((*TIMESTAMPS, 0))
    if name == "google.protobuf.Duration":
        return rng.choice(DURATIONS)
    if name == "google.protobuf.FieldMask":
        return rng.choice(("maxOrderQuantity", "limits.max_open_orders", "nope,a.b", ""))
    if depth > 3:
        return {}
    result: dict[str, object] = {}
    for field in message_type.fields:
        if rng.random() < 0.55:
            result[rng.choice((field.name, field.json_name))] = _json_field(field, rng, depth)
    if rng.random() < 0.05:
        result["not_a_field"] = 1
    return result


def _json_field(field: FieldDescriptor, rng: random.Random, depth: int) -> object:
    if rng.random() < 0.08:  # the wrong JSON type altogether
        return rng.choice((None, [], {}, "text", 7, True))
    if field.is_repeated:
        return [_json_single(field, rng, depth) for _ in range(rng.choice((0, 1, 3, 40)))]
    return _json_single(field, rng, depth)


def _json_single(field: FieldDescriptor, rng: random.Random, depth: int) -> object:
    if field.message_type is not None:
        return _json_message(field.message_type, rng, depth + 1)
    return _json_scalar(field, rng)


def _query_value(field: FieldDescriptor, rng: random.Random) -> str:
    if field.message_type is not None:
        value = _json_message(field.message_type, rng, 3)
        return value if isinstance(value, str) else json.dumps(value)
    value = _json_scalar(field, rng)
    return value if isinstance(value, str) else json.dumps(value)


def _leaf_fields(
    message_type: descriptor.Descriptor, prefix: str = "", depth: int = 0
) -> list[tuple[str, FieldDescriptor]]:
    """Every field a query parameter can name (dotted through nested messages)."""
    leaves: list[tuple[str, FieldDescriptor]] = []
    for field in message_type.fields:
        path = prefix + field.name
        well_known = field.message_type is not None and field.message_type.full_name.startswith(
            "google.protobuf."
        )
        if field.message_type is None or well_known or depth >= 2:
            leaves.append((path, field))
        else:
            leaves.extend(_leaf_fields(field.message_type, path + ".", depth + 1))
    return leaves


def _path_segment(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(("%ff%fe", "..", ".", "%2F", "a%00b", "%", "%zz", "a/b"))
    return quote(odd_string(rng, name.rsplit(".", 1)[-1]), safe="") or "x"


def _query(method: Method, rng: random.Random) -> str:
    leaves = _leaf_fields(method.input_type)
    parameters: list[str] = []
    for _ in range(rng.choice((0, 1, 2, 4))):
        if leaves and rng.random() < 0.9:
            name, field = rng.choice(leaves)
            value = _query_value(field, rng)
        else:
            name, value = rng.choice(("nope", "a.b", "", "%ff")), "1"
        parameters.append(f"{quote(name, safe='.%')}={quote(value, safe='')}")
    if rng.random() < 0.05:
        parameters.append(rng.choice(("&&", "=", "a=%", "a=%zz", "x" * 9000 + "=1")))
    return "&".join(parameters)


def _body(method: Method, rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice((b"", b"{", b"[]", b"null", b'"text"', b"\xff\xfe{}", b"{" * 2000))
    if roll < 0.12:
        return rng.randbytes(rng.randint(1, 100))
    return json.dumps(_json_message(method.input_type, rng, 0)).encode()


def random_http_request(method: Method, rng: random.Random) -> HttpRequest:
    """A request for `method`'s HTTP route (which it must have)."""
    rule = method.http_rule
    assert rule is not None, method.path
    verb = rule.WhichOneof("pattern")
    assert verb is not None
    template = getattr(rule, verb)
    path = _VARIABLE.sub(lambda match: _path_segment(rng, match.group(1)), template)
    query = _query(method, rng) if not rule.body or rng.random() < 0.2 else ""
    body = _body(method, rng) if rule.body else None
    if rng.random() < 0.03:  # the route with a method it does not take
        verb = rng.choice(("put", "delete", "get" if verb != "get" else "post"))
    return HttpRequest(
        verb=verb.upper(),
        target=path + ("?" + query if query else ""),
        body=body,
        streaming=method.server_streaming,
    )
