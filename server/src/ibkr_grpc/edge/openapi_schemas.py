"""JSON Schemas (OpenAPI 3.1) of protobuf messages as Envoy's transcoder writes and reads them.

The proto3 JSON mapping with the edge's print options: proto field names, every field without
presence always printed, enums as names, 64-bit integers as strings, Timestamps as RFC 3339
and Durations as seconds with an "s". A message reachable from a response is described as
Envoy prints it (fields that are always printed are `required`); one that requests use as
well gets a second, request-side schema named `...Input`, whose fields carry the request
rules (buf.validate, see openapi_rules): required are the fields the server refuses to miss.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    OneofDescriptor,
)

from ibkr_grpc.edge.openapi_rules import CEL_EXTENSION, Constrained, RuleBook

Schema = dict[str, Any]

SCHEMA_PREFIX = "#/components/schemas/"
STATUS = "google.rpc.Status"
_ERROR_DETAIL_PACKAGE = "google.rpc"
_TYPE_URL_PREFIX = "type.googleapis.com/"
# Protobuf's own range for a Duration (about 10,000 years) and its JSON form.
_DURATION_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,9})?s$"
_INT64_RANGE = (-(2**63), 2**63 - 1)
_UINT64_RANGE = (0, 2**64 - 1)


class Direction(enum.Enum):
    """Whether a schema describes what clients send or what Envoy prints."""

    REQUEST = "request"
    RESPONSE = "response"


_INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 2**32 - 1}
# Envoy prints NaN and the infinities as strings.
_FLOAT_NAMES = {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}
_SCALARS: dict[int, Schema] = {
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_DOUBLE: {"anyOf": [{"type": "number", "format": "double"}, _FLOAT_NAMES]},
    FieldDescriptor.TYPE_FLOAT: {"anyOf": [{"type": "number", "format": "float"}, _FLOAT_NAMES]},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
}
# 64-bit integers: their format and range.
_LONGS = {
    FieldDescriptor.TYPE_INT64: ("int64", *_INT64_RANGE),
    FieldDescriptor.TYPE_SINT64: ("int64", *_INT64_RANGE),
    FieldDescriptor.TYPE_SFIXED64: ("int64", *_INT64_RANGE),
    FieldDescriptor.TYPE_UINT64: ("uint64", *_UINT64_RANGE),
    FieldDescriptor.TYPE_FIXED64: ("uint64", *_UINT64_RANGE),
}


def scalar_schema(field: FieldDescriptor, direction: Direction) -> Schema:
    """The schema of one value of a non-message, non-enum field."""
    if field.type not in _LONGS:
        return dict(_SCALARS[field.type])
    format_name, low, high = _LONGS[field.type]
    pattern = "^-?[0-9]+$" if low < 0 else "^[0-9]+$"
    if direction is Direction.RESPONSE:
        return {"type": "string", "format": format_name, "pattern": pattern}
    # Requests may carry a JSON number as well as the string the server prints.
    return {
        "type": ["string", "integer"],
        "format": format_name,
        "pattern": pattern,
        "minimum": low,
        "maximum": high,
    }


_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "description": "RFC 3339, printed in UTC with a Z (0001-01-01 to 9999-12-31).",
    },
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": _DURATION_PATTERN,
        "description": 'Seconds with up to nine decimals and an "s": "15s", "0.5s".',
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Field paths, comma-separated, in lowerCamelCase: "
        '"maxOrderQuantity,allowedSymbols".',
    },
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Value": {},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
    },
}


def well_known_schema(message: Descriptor, direction: Direction) -> Schema | None:
    """The JSON form of a google.protobuf well-known type, or None for any other message."""
    name: str = message.full_name
    if name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[name])
    if name.startswith("google.protobuf.") and name.endswith("Value"):
        # The wrappers (Int64Value, StringValue, ...): the bare value.
        return scalar_schema(message.fields_by_name["value"], direction)
    return None


def is_map(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and message.GetOptions().map_entry


def is_synthetic(oneof: OneofDescriptor) -> bool:
    """The oneof protoc makes for a proto3 `optional` field (`_name` around field `name`)."""
    fields = oneof.fields
    return len(fields) == 1 and oneof.name == f"_{fields[0].name}" and fields[0].has_presence


def always_printed(field: FieldDescriptor) -> bool:
    """Whether Envoy prints the field even when unset (always_print_primitive_fields)."""
    if field.is_repeated:
        return True
    return not field.has_presence


class SchemaBuilder:
    """Builds the components of the document's `schemas`, one per message and enum used."""

    def __init__(
        self,
        comments: Mapping[str, str],
        *,
        response_messages: Iterable[str],
        api_packages: Iterable[str],
        error_details: Sequence[Descriptor],
        error_reasons: Mapping[str, tuple[str, ...]],
        rules: RuleBook | None = None,
    ) -> None:
        self._comments = comments
        # The request rules, in request schemas and parameters (None: left out).
        self._rules = rules
        self._response_messages = frozenset(response_messages)
        self._api_packages = frozenset(api_packages)
        # The messages of google/rpc/error_details.proto, which Status.details may carry.
        self._error_details = tuple(error_details)
        # ErrorInfo.reason values per domain, from each API package's ErrorReason enum.
        self._error_reasons = error_reasons
        self.components: dict[str, Schema] = {}

    def component_name(self, message: Descriptor, direction: Direction) -> str:
        name: str = message.full_name
        if direction is Direction.REQUEST and name in self._response_messages:
            return f"{name}Input"
        return name

    def message(self, message: Descriptor, direction: Direction) -> Schema:
        """A reference to the message's schema (or the inline form of a well-known type)."""
        inline = well_known_schema(message, direction)
        if inline is not None:
            return inline
        name = self.component_name(message, direction)
        if name not in self.components:
            self.components[name] = {}  # reserved first: messages may refer to themselves
            self.components[name] = self.message_body(message, direction)
        return {"$ref": SCHEMA_PREFIX + name}

    def enum(self, enum_type: EnumDescriptor) -> Schema:
        name = enum_type.full_name
        if name == "google.protobuf.NullValue":
            return {"type": "null"}
        if name not in self.components:
            self.components[name] = self._enum_body(enum_type)
        return {"$ref": SCHEMA_PREFIX + name}

    def field(
        self, field: FieldDescriptor, direction: Direction, *, with_rules: bool | None = None
    ) -> Schema:
        """The schema of a field's JSON value, its comment as the description. Its request
        rules are in it for requests, or when `with_rules` says so (parameters)."""
        constrained = self.constrained(field, direction, with_rules=with_rules)
        return constrained.described(self._comments.get(field.full_name))

    def constrained(
        self, field: FieldDescriptor, direction: Direction, *, with_rules: bool | None = None
    ) -> Constrained:
        """The schema of a field's JSON value with its request rules, without description."""
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            schema: Schema = {
                "type": "object",
                "additionalProperties": self.single_value(value_field, direction),
            }
        elif field.is_repeated:
            schema = {"type": "array", "items": self.single_value(field, direction)}
        else:
            schema = self.single_value(field, direction)
        if with_rules is None:
            with_rules = direction is Direction.REQUEST
        if self._rules is None or not with_rules:
            return Constrained(schema)
        return self._rules.constrain(field, schema)

    def single_value(self, field: FieldDescriptor, direction: Direction) -> Schema:
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        if field.message_type is not None:
            return self.message(field.message_type, direction)
        return scalar_schema(field, direction)

    def message_body(
        self,
        message: Descriptor,
        direction: Direction,
        *,
        excluded: frozenset[str] = frozenset(),
    ) -> Schema:
        """The object schema of a message, without the fields named in `excluded` (dotted
        paths; those into a sub-message inline that message's schema without them)."""
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for field in message.fields:
            if field.name in excluded:
                continue
            nested = frozenset(
                path.partition(".")[2] for path in excluded if path.startswith(field.name + ".")
            )
            if nested and field.message_type is not None:
                properties[field.name] = self.message_body(
                    field.message_type, direction, excluded=nested
                )
            elif (special := self._special_field(message, field, direction)) is not None:
                properties[field.name] = special
            else:
                constrained = self.constrained(field, direction)
                properties[field.name] = constrained.described(self._comments.get(field.full_name))
                if direction is Direction.REQUEST and constrained.required:
                    required.append(field.name)
            if (
                direction is Direction.RESPONSE
                and message.file.package in self._api_packages
                and always_printed(field)
            ):
                required.append(field.name)
        if direction is Direction.RESPONSE and message.full_name == STATUS:
            # Both forms carry them: statuses the transcoder converts and Envoy's own replies.
            required = ["code", "message"]
        schema: Schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        schema |= self._one_of(message, excluded)
        description = self._description(message)
        message_rules = self._rules.message_rules(message) if self._rules else []
        if direction is Direction.REQUEST and message_rules:
            schema[CEL_EXTENSION] = [rule.as_json() for rule in message_rules]
            sentences = "; ".join(rule.sentence() for rule in message_rules)
            description = f"{description}\n\nAlso checked by the server: {sentences}.".strip()
        if description:
            schema["description"] = description
        return schema

    def _special_field(
        self, message: Descriptor, field: FieldDescriptor, direction: Direction
    ) -> Schema | None:
        """google.rpc.Status's details and ErrorInfo's reason, as this API fills them."""
        if message.full_name == STATUS and field.name == "details":
            return {"type": "array", "items": self._error_detail(direction)}
        if message.full_name == "google.rpc.ErrorInfo" and self._error_reasons:
            if field.name == "reason":
                reasons = sorted({r for values in self._error_reasons.values() for r in values})
                return {"type": "string", "enum": reasons} | self._documented(field)
            if field.name == "domain":
                return {"type": "string", "enum": sorted(self._error_reasons)}
        return None

    def _documented(self, field: FieldDescriptor) -> Schema:
        description = self._comments.get(field.full_name)
        return {"description": description} if description else {}

    def _error_detail(self, direction: Direction) -> Schema:
        """One entry of Status.details: an Any whose @type names a google.rpc detail."""
        known = [_TYPE_URL_PREFIX + message.full_name for message in self._error_details]
        variants: list[Schema] = [
            self.message(message, direction)
            | {"properties": {"@type": {"const": type_url}}, "required": ["@type"]}
            for message, type_url in zip(self._error_details, known, strict=True)
        ]
        variants.append(
            {
                "type": "object",
                "properties": {"@type": {"type": "string", "not": {"enum": known}}},
                "required": ["@type"],
                "description": "Any other detail (a google.protobuf.Any in its JSON form).",
            }
        )
        return {"oneOf": variants}

    @staticmethod
    def _one_of(message: Descriptor, excluded: frozenset[str]) -> Schema:
        """At most one member of each oneof is printed: exactly one branch then matches."""
        constraints: list[Schema] = []
        for oneof in message.oneofs:
            members = [field.name for field in oneof.fields if field.name not in excluded]
            if is_synthetic(oneof) or len(members) < 2:
                continue
            branches: list[Schema] = [{"required": [member]} for member in members]
            branches.append({"not": {"anyOf": [{"required": [m]} for m in members]}})
            constraints.append({"oneOf": branches})
        if len(constraints) > 1:
            return {"allOf": constraints}
        return constraints[0] if constraints else {}

    def _description(self, message: Descriptor) -> str:
        parts = [self._comments.get(message.full_name, "")]
        for oneof in message.oneofs:
            if is_synthetic(oneof):
                continue
            names = ", ".join(f"`{field.name}`" for field in oneof.fields)
            comment = self._comments.get(oneof.full_name, "")
            parts.append(f"At most one of {names} (oneof `{oneof.name}`). {comment}".strip())
        return "\n\n".join(part for part in parts if part)

    def _enum_body(self, enum_type: EnumDescriptor) -> Schema:
        lines = [self._comments.get(enum_type.full_name, "")]
        documented = [
            f"- `{value.name}`: {self._comments[f'{enum_type.full_name}.{value.name}']}"
            for value in enum_type.values
            if self._comments.get(f"{enum_type.full_name}.{value.name}")
        ]
        if documented:
            lines.append("\n".join(documented))
        schema: Schema = {
            "type": "string",
            "enum": [value.name for value in enum_type.values],
        }
        description = "\n\n".join(line for line in lines if line)
        if description:
            schema["description"] = description
        return schema
