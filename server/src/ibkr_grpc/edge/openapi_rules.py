"""protovalidate (buf.validate) request rules as JSON Schema, for the OpenAPI document.

A field's standard rules (required, lengths, patterns, bounds, items, enum values) become
keywords of its schema; its CEL rules too when they only compare, measure or match the value
(`openapi_cel`), predefined rules (extensions of the rule messages) included. What JSON Schema
cannot say (rules across fields, Duration and Timestamp ranges, other CEL) is listed in the
`x-cel-rules` extension and written into the description, so the document never claims less
than the server checks, nor more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from buf.validate import validate_pb2
from ibkr_grpc.edge.openapi_cel import (
    Kind,
    Subject,
    Translator,
    UnsupportedError,
    escaped,
    portable_pattern,
)

Schema = dict[str, Any]

CEL_EXTENSION = "x-cel-rules"
_SIGNED_DIGITS, _DIGITS = "^-?[0-9]+$", "^[0-9]+$"
_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_INTEGERS = {
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_SINT64: "sint64",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
}
_NUMBERS = {FieldDescriptor.TYPE_DOUBLE: "double", FieldDescriptor.TYPE_FLOAT: "float"}
_BOUNDS = {"gt": "exclusiveMinimum", "gte": "minimum", "lt": "exclusiveMaximum", "lte": "maximum"}
_LOWER = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}
_UPPER = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}
# String rules with an exact JSON Schema form; the others (email, hostname, ip, uri, ...) differ
# in details between validators and are only described.
_STRING_KEYWORDS = {"min_len": "minLength", "max_len": "maxLength"}


@dataclass(frozen=True)
class CelRule:
    """A CEL rule the schema does not express."""

    id: str
    message: str
    expression: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "message": self.message, "expression": self.expression}

    def sentence(self) -> str:
        text = self.message or f"`{self.expression}`"
        return f"`{self.id}`: {text}" if self.id else text


@dataclass
class Constrained:
    """A field's schema with its rules, and what they add to the message around it."""

    schema: Schema
    # The key must be present: buf.validate `required`, or the value left out (the field's
    # zero value) breaks a rule.
    required: bool = False
    notes: list[str] = field(default_factory=list)
    unexpressed: list[CelRule] = field(default_factory=list)

    def described(self, description: str | None) -> Schema:
        """The schema with its description: the comment, then the rules not expressed."""
        lines = [description] if description else []
        rules = [*self.notes, *(rule.sentence() for rule in self.unexpressed)]
        if rules:
            lines.append("Also checked by the server: " + "; ".join(rules) + ".")
        schema = dict(self.schema)
        if self.unexpressed:
            schema[CEL_EXTENSION] = [rule.as_json() for rule in self.unexpressed]
        if lines:
            schema["description"] = "\n\n".join(lines)
        return schema


def narrow(schema: Schema, fragments: Iterable[Schema]) -> Schema:
    """`schema` with every fragment's keywords added: bounds tightened where both set one,
    other clashes (a second pattern) under allOf."""
    narrowed = dict(schema)
    extra: list[Schema] = []
    for fragment in fragments:
        for key, value in fragment.items():
            if key not in narrowed:
                narrowed[key] = value
            elif key in _LOWER:
                narrowed[key] = max(narrowed[key], value)
            elif key in _UPPER:
                narrowed[key] = min(narrowed[key], value)
            elif key == "items" and isinstance(value, dict):
                narrowed[key] = narrow(narrowed[key], [value])
            elif key == "pattern" and (narrowed[key], value) == (_SIGNED_DIGITS, _DIGITS):
                narrowed[key] = value  # a 64-bit integer's digits, now without a sign
            elif narrowed[key] != value:
                extra.append({key: value})
    if extra:
        narrowed["allOf"] = [*narrowed.get("allOf", []), *extra]
    return narrowed


_STRING_SIZES = {"minLength": 1, "maxLength": -1}
_ITEM_SIZES = {"minItems": 1, "maxItems": -1}
_NUMBER_BOUNDS = {"minimum": (1, True), "maximum": (-1, True)}
_NUMBER_BOUNDS |= {"exclusiveMinimum": (1, False), "exclusiveMaximum": (-1, False)}
_ANNOTATIONS = {"type", "format", "description", "uniqueItems", CEL_EXTENSION}


def _within(value: float, bound: float, direction: int, *, inclusive: bool) -> bool:
    """value >= bound (direction 1) or <= bound (-1), or strictly when not inclusive."""
    difference = (value - bound) * direction
    return difference >= 0 if inclusive else difference > 0


def _keyword_accepts(key: str, expected: Any, value: object) -> bool | None:  # noqa: PLR0911  one return per keyword
    """One keyword's verdict; as in JSON Schema, a keyword about another type lets the value
    through."""
    if key == "enum":
        return value in expected
    if key == "const":
        return bool(value == expected)
    if key == "pattern":
        return not isinstance(value, str) or re.search(expected, value) is not None
    if key in _STRING_SIZES:
        return not isinstance(value, str) or _within(
            len(value), expected, _STRING_SIZES[key], inclusive=True
        )
    if key in _ITEM_SIZES:
        return not isinstance(value, list) or _within(
            len(value), expected, _ITEM_SIZES[key], inclusive=True
        )
    if key in _NUMBER_BOUNDS:
        direction, inclusive = _NUMBER_BOUNDS[key]
        if not isinstance(value, int | float) or isinstance(value, bool):
            return True
        return _within(value, expected, direction, inclusive=inclusive)
    if key == "not":
        inner = accepts(expected, value)
        return None if inner is None else not inner
    if key in {"allOf", "anyOf"}:
        parts = [accepts(part, value) for part in expected]
        if None in parts:
            return None
        return all(parts) if key == "allOf" else any(parts)
    return True if key in _ANNOTATIONS else None


def accepts(schema: Schema, value: object) -> bool | None:
    """Whether the value matches the keywords this module writes; None when unsure."""
    results = [_keyword_accepts(key, expected, value) for key, expected in schema.items()]
    if False in results:
        return False
    return None if None in results else True


class RuleBook:
    """Reads buf.validate rules from a pool's descriptors and turns them into schemas."""

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        # Predefined rules are extensions of the rule messages that the generated
        # buf.validate module does not know: the rule messages are read again as classes of
        # this pool, which does.
        self._pool = pool

    @staticmethod
    def field_rules(field: FieldDescriptor) -> validate_pb2.FieldRules | None:
        options = field.GetOptions()
        if not options.HasExtension(validate_pb2.field):
            return None
        rules: validate_pb2.FieldRules = options.Extensions[validate_pb2.field]
        return rules

    def message_rules(self, message: Descriptor) -> list[CelRule]:
        """The message's own CEL rules: about several fields, never in a field's schema."""
        options = message.GetOptions()
        if not options.HasExtension(validate_pb2.message):
            return []
        rules: validate_pb2.MessageRules = options.Extensions[validate_pb2.message]
        found = [CelRule(rule.id, rule.message, rule.expression) for rule in rules.cel]
        found += [CelRule("", "", expression) for expression in rules.cel_expression]
        for oneof in rules.oneof:
            names = ", ".join(f"`{name}`" for name in oneof.fields)
            text = "exactly one" if oneof.required else "at most one"
            found.append(CelRule("", f"{text} of {names}", ""))
        return found

    def constrain(self, field: FieldDescriptor, schema: Schema) -> Constrained:
        """The field's JSON value schema (an array for a repeated field) with its rules."""
        rules = self.field_rules(field)
        if rules is None or rules.ignore == validate_pb2.IGNORE_ALWAYS:
            return Constrained(schema)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            return self._map(rules, schema)
        if field.is_repeated:
            return self._repeated(field, rules, schema)
        constrained = self._single(field, rules, schema)
        presence = field.has_presence or field.containing_oneof is not None
        if rules.required:
            constrained.required = True
        elif not presence and rules.ignore != validate_pb2.IGNORE_IF_ZERO_VALUE:
            constrained.required = accepts(constrained.schema, _zero(field)) is False
        return constrained

    def _map(self, rules: validate_pb2.FieldRules, schema: Schema) -> Constrained:
        constrained = Constrained(dict(schema), required=rules.required)
        fragment: Schema = {}
        if rules.map.HasField("min_pairs"):
            fragment["minProperties"] = rules.map.min_pairs
        if rules.map.HasField("max_pairs"):
            fragment["maxProperties"] = rules.map.max_pairs
        constrained.schema = narrow(schema, [fragment])
        if rules.map.HasField("keys") or rules.map.HasField("values"):
            constrained.notes.append("rules on the map's keys and values")
        self._cel(rules, Subject(Kind.STRING), constrained, translate=False)
        return constrained

    def _repeated(
        self, field: FieldDescriptor, rules: validate_pb2.FieldRules, schema: Schema
    ) -> Constrained:
        repeated = rules.repeated
        fragment: Schema = {}
        if repeated.HasField("min_items"):
            fragment["minItems"] = repeated.min_items
        if repeated.HasField("max_items"):
            fragment["maxItems"] = repeated.max_items
        if repeated.unique:
            fragment["uniqueItems"] = True
        constrained = Constrained(narrow(schema, [fragment]), required=rules.required)
        if repeated.HasField("items") and repeated.items.ignore != validate_pb2.IGNORE_ALWAYS:
            items = self._single(field, repeated.items, schema["items"])
            constrained.schema["items"] = items.schema
            constrained.notes += [f"each item: {note}" for note in items.notes]
            constrained.unexpressed += items.unexpressed
        # CEL about the list itself: its size, `this.all(item, ...)`.
        item = _subject(field)
        subject = Subject(item.kind, item.enum_names, repeated=True)
        constrained.schema = narrow(
            constrained.schema, self._cel(rules, subject, constrained, translate=True)
        )
        if not constrained.required and rules.ignore != validate_pb2.IGNORE_IF_ZERO_VALUE:
            constrained.required = accepts(constrained.schema, []) is False
        return constrained

    def _single(
        self, field: FieldDescriptor, rules: validate_pb2.FieldRules, schema: Schema
    ) -> Constrained:
        subject = _subject(field)
        constrained = Constrained(dict(schema))
        fragments: list[Schema] = []
        kind = rules.WhichOneof("type")
        if kind is not None:
            typed: Message = getattr(rules, kind)
            fragments += self._standard(kind, typed, subject, constrained)
            fragments += self._predefined(kind, typed, subject, constrained)
        fragments += self._cel(rules, subject, constrained, translate=True)
        if rules.required:
            fragments += _non_zero(field, subject)
        zero_ignored = rules.ignore == validate_pb2.IGNORE_IF_ZERO_VALUE
        if schema.get("format") in _DIGIT_STRINGS:
            fragments = _digit_strings(fragments, constrained)
        if subject.kind is Kind.ENUM and subject.enum_names is not None:
            constrained.schema = _enum(
                schema, subject.enum_names, fragments, zero_ignored=zero_ignored
            )
        elif fragments and zero_ignored:
            zero = {"enum": [_zero(field)]}
            constrained.schema = narrow(schema, [{"anyOf": [zero, narrow({}, fragments)]}])
        else:
            constrained.schema = narrow(schema, fragments)
        return constrained

    def _standard(
        self, kind: str, typed: Message, subject: Subject, constrained: Constrained
    ) -> list[Schema]:
        """The rule message's own fields (not its extensions)."""
        fragments: list[Schema] = []
        for descriptor, value in typed.ListFields():
            name = descriptor.name
            if descriptor.is_extension or name == "example":
                continue
            fragment = _standard_rule(kind, name, value, subject)
            if kind in {"duration", "timestamp"} and name in _TIME_WORDS:
                constrained.notes.append(f"{_TIME_WORDS[name]} {_time_text(value)}")
            elif fragment is None:
                constrained.notes.append(f"{kind}.{name} = {_shown(value)}")
            else:
                fragments.append(fragment)
        return fragments

    def _predefined(
        self, kind: str, typed: Message, subject: Subject, constrained: Constrained
    ) -> list[Schema]:
        """Rules the API's own .proto files add to the rule messages."""
        rule_type = self._pool.FindMessageTypeByName(typed.DESCRIPTOR.full_name)
        reread = message_factory.GetMessageClass(rule_type).FromString(typed.SerializeToString())
        fragments: list[Schema] = []
        for descriptor, value in reread.ListFields():
            if not descriptor.is_extension:
                continue
            predefined: validate_pb2.PredefinedRules = descriptor.GetOptions().Extensions[
                validate_pb2.predefined
            ]
            for rule in predefined.cel:
                with_value = Subject(subject.kind, subject.enum_names, _plain(value))
                cel = CelRule(rule.id or f"{kind}.{descriptor.name}", rule.message, rule.expression)
                fragments += _translated(cel, with_value, constrained)
        return fragments

    @staticmethod
    def _cel(
        rules: validate_pb2.FieldRules,
        subject: Subject,
        constrained: Constrained,
        *,
        translate: bool,
    ) -> list[Schema]:
        fragments: list[Schema] = []
        found = [CelRule(rule.id, rule.message, rule.expression) for rule in rules.cel]
        found += [CelRule("", "", expression) for expression in rules.cel_expression]
        for rule in found:
            if translate:
                fragments += _translated(rule, subject, constrained)
            else:
                constrained.unexpressed.append(rule)
        return fragments


_DIGIT_STRINGS = {"int64", "uint64"}
_BOUND_WORDS = {
    "minimum": "at least",
    "exclusiveMinimum": "above",
    "maximum": "at most",
    "exclusiveMaximum": "below",
}


def _digit_strings(fragments: list[Schema], constrained: Constrained) -> list[Schema]:
    """A 64-bit integer may be a string of digits, which minimum and the like do not bound:
    the bounds are said in words too, and a bound at or above zero refuses a '-'."""
    words = [
        f"{_BOUND_WORDS[key]} {value}"
        for fragment in fragments
        for key, value in fragment.items()
        if key in _BOUND_WORDS
    ]
    if words:
        constrained.notes.append(", ".join(words) + " (a string of digits too)")
    lower = [
        value
        for fragment in fragments
        for key, value in fragment.items()
        if key in {"minimum", "exclusiveMinimum"}
    ]
    if lower and max(lower) >= 0:
        return [*fragments, {"pattern": _DIGITS}]
    return fragments


def _translated(rule: CelRule, subject: Subject, constrained: Constrained) -> list[Schema]:
    try:
        return Translator(subject).rule(rule.expression)
    except UnsupportedError:
        constrained.unexpressed.append(rule)
        return []


def _subject(field: FieldDescriptor) -> Subject:
    if field.enum_type is not None:
        names = {value.number: value.name for value in field.enum_type.values}
        return Subject(Kind.ENUM, names)
    if field.type in _INTEGERS:
        return Subject(Kind.INTEGER)
    if field.type in _NUMBERS:
        return Subject(Kind.NUMBER)
    if field.type == FieldDescriptor.TYPE_STRING:
        return Subject(Kind.STRING)
    return Subject(Kind.OTHER)


def _zero(field: FieldDescriptor) -> object:
    if field.enum_type is not None:
        return (
            field.enum_type.values_by_number[0].name if 0 in field.enum_type.values_by_number else 0
        )
    if field.type in _INTEGERS or field.type in _NUMBERS:
        return 0
    if field.type == FieldDescriptor.TYPE_BOOL:
        return False
    if field.type in {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES}:
        return ""
    return None


def _non_zero(field: FieldDescriptor, subject: Subject) -> list[Schema]:
    """`required` on a field without presence: its zero value is refused."""
    if field.message_type is not None or field.has_presence:
        return []
    if subject.kind is Kind.ENUM and subject.enum_names is not None:
        return [{"enum": [name for number, name in subject.enum_names.items() if number]}]
    if subject.kind is Kind.STRING or field.type == FieldDescriptor.TYPE_BYTES:
        return [{"minLength": 1}]
    if field.type == FieldDescriptor.TYPE_BOOL:
        return [{"enum": [True]}]
    return [{"not": {"enum": [0]}}]


def _enum(
    schema: Schema, names: dict[int, str], fragments: list[Schema], *, zero_ignored: bool
) -> Schema:
    """An enum's schema narrowed to the names its rules allow."""
    allowed = list(names.values())
    rest: list[Schema] = []
    for fragment in fragments:
        if set(fragment) == {"enum"}:
            allowed = [name for name in allowed if name in fragment["enum"]]
        else:
            rest.append(fragment)
    if zero_ignored and 0 in names and names[0] not in allowed:
        allowed.insert(0, names[0])
    if allowed == list(names.values()) and not rest:
        return schema
    # The enum's component stays (its values' comments): 2020-12 applies a $ref and the
    # keywords beside it, so the sibling `enum` narrows it.
    return narrow(schema, [{"enum": allowed}, *rest])


_TIME_WORDS = {
    "gt": "after",
    "gte": "at least",
    "lt": "before",
    "lte": "at most",
    "const": "exactly",
    "within": "within",
}


def _time_text(value: Any) -> str:
    """A Duration or Timestamp rule's value in its JSON form ("300s", an RFC 3339 time)."""
    if isinstance(value, Message) and hasattr(value, "ToJsonString"):
        return f'"{value.ToJsonString()}"'
    return _shown(value)


def _plain(value: object) -> str | int | float | bool | None:
    return value if isinstance(value, str | int | float | bool) else None


def _shown(value: object) -> str:
    if isinstance(value, Message):
        return "{" + str(value).strip().replace("\n", ", ") + "}"
    if isinstance(value, Iterable) and not isinstance(value, str):
        return "[" + ", ".join(repr(item) for item in value) + "]"
    return repr(value)


def _standard_rule(  # noqa: PLR0911, PLR0912  one return per rule
    kind: str, name: str, value: Any, subject: Subject
) -> Schema | None:
    """One standard rule as JSON Schema, or None when only a description can carry it."""
    if kind == "string":
        return _string_rule(name, value)
    if subject.kind in {Kind.INTEGER, Kind.NUMBER}:
        if name in _BOUNDS:
            return {_BOUNDS[name]: value}
        if name == "const":
            return {"enum": [value]}
        if name == "in":
            return {"enum": list(value)}
        if name == "not_in":
            return {"not": {"enum": list(value)}}
        if name == "finite" and value:
            return {"type": "number"}
        return None
    if subject.kind is Kind.ENUM and subject.enum_names is not None:
        names = subject.enum_names
        if name == "defined_only":
            return {"enum": list(names.values())} if value else {}
        if name == "const":
            return {"enum": [names[value]]} if value in names else None
        if name == "in":
            return {"enum": [names[number] for number in value if number in names]}
        if name == "not_in":
            return {"enum": [names[n] for n in names if n not in set(value)]}
        return None
    if kind == "bool" and name == "const":
        return {"enum": [value]}
    return None


def _string_rule(name: str, value: Any) -> Schema | None:
    if name in _STRING_KEYWORDS:
        return {_STRING_KEYWORDS[name]: value}
    simple: dict[str, Schema] = {
        "len": {"minLength": value, "maxLength": value} if isinstance(value, int) else {},
        "const": {"enum": [value]},
        "in": {"enum": list(value)} if not isinstance(value, str | int) else {},
        "not_in": {"not": {"enum": list(value)}} if not isinstance(value, str | int) else {},
        "prefix": {"pattern": "^" + escaped(str(value))},
        "suffix": {"pattern": escaped(str(value)) + "$"},
        "contains": {"pattern": escaped(str(value))},
        "not_contains": {"not": {"pattern": escaped(str(value))}},
        "uuid": {"format": "uuid", "pattern": _UUID} if value else {},
        "tuuid": {"pattern": "^[0-9a-fA-F]{32}$"} if value else {},
    }
    if name == "pattern":
        try:
            return {"pattern": portable_pattern(str(value))}
        except UnsupportedError:
            return None
    return simple.get(name)
