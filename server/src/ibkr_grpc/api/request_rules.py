"""The rules every request's .proto declares (protovalidate's buf.validate annotations), checked
in one place before any servicer runs, with their violations as the API's field violations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import protovalidate
import structlog
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ibkr_grpc.domain.errors import FieldViolation, OrderValidationError, ValidationError, shown

_log = structlog.get_logger("ibkr_grpc.api")

# A message-level rule whose id starts with this judges an order as a whole (proto/ibkr/v1/
# rules.proto): ORDER_VALIDATION_FAILED, reported only when every field is fine on its own.
WHOLE_ORDER_PREFIX = "order."


class RequestRules:
    """Checks requests against their messages' rules; holds the validator, which compiles each
    message type's rules once and keeps them."""

    def __init__(self) -> None:
        self._validator = protovalidate.Validator()

    def check(self, request: Message) -> None:
        """Raises ValidationError (some field breaks its rules) or OrderValidationError (only
        rules about the order as a whole fail); returns when the request keeps every rule."""
        try:
            found = self._validator.collect_violations(request)
        except protovalidate.EvaluationError as error:
            # A rule that cannot be evaluated on this request (a value beyond what CEL holds):
            # the request is refused, not the server's fault.
            _log.warning("request rule not evaluated", error=str(error))
            raise ValidationError(
                [FieldViolation("", f"cannot be checked against its rules: {error}")]
            ) from None
        fields: list[FieldViolation] = []
        whole_order: list[FieldViolation] = []
        for violation in found:
            proto = violation.proto
            rule_id = proto.rule_id or ""
            elements = list(proto.field.elements) if proto.field is not None else []
            target = _field_path(request.DESCRIPTOR, elements, rule_id)
            description = proto.message or rule_id
            value = violation.field_value
            if isinstance(value, str) and value:
                # The caller's text, quoted and cut short (a violation travels in metadata).
                description = f"{description}, got {shown(value)}"
            if rule_id.startswith(WHOLE_ORDER_PREFIX):
                whole_order.append(FieldViolation(target, description))
            else:
                fields.append(FieldViolation(target, description))
        if fields:
            raise ValidationError(fields)
        if whole_order:
            raise OrderValidationError(whole_order)


def _field_path(root: Any, elements: Iterable[Any], rule_id: str) -> str:
    """The violation's field path as the API writes it ("legs[0].contract.con_id"). A rule on a
    message names the field it is about at the start of its id ("limit_price.order_type",
    "order.take_profit.limit_price.beyond_entry"): that field is appended to the message's path."""
    parts: list[str] = []
    # Descriptor at type-check time; upb's own class at run time.
    message: Descriptor | None = root
    for element in elements:
        name = element.field_name
        subscript = element.subscript
        parts.append(name if subscript is None else f"{name}[{subscript.value}]")
        field = message.fields_by_name.get(name) if message is not None else None
        message = _message_of(field, indexed=subscript is not None)
    if message is not None:
        for segment in rule_id.removeprefix(WHOLE_ORDER_PREFIX).split("."):
            field = message.fields_by_name.get(segment) if message is not None else None
            if field is None:
                break
            parts.append(segment)
            message = _message_of(field, indexed=False)
    return ".".join(parts)


def _message_of(field: FieldDescriptor | None, *, indexed: bool) -> Descriptor | None:
    """The message a path element ends at: a singular message field, or one element of a
    repeated one; None for scalars and whole lists."""
    if field is None or field.message_type is None:
        return None
    if field.is_repeated and not indexed:
        return None
    return field.message_type
