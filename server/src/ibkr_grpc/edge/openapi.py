"""Writes the OpenAPI 3.1 document of the HTTP/JSON routes that Envoy transcodes.

Everything comes from a descriptor set with source info (`make generate` builds one into
build/): every method's google.api.http rules, its request and response messages, and the
comments of the .proto files. Run `python -m ibkr_grpc.edge.openapi --help`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)

from ibkr_grpc.edge.openapi_rules import RuleBook
from ibkr_grpc.edge.openapi_schemas import (
    STATUS,
    Direction,
    Schema,
    SchemaBuilder,
    is_map,
    well_known_schema,
)

OPENAPI_VERSION = "3.1.1"
STREAM_EXTENSION = "x-server-streaming"
_VARIABLE = re.compile(r"\{([A-Za-z0-9_.]+)(?:=[^}]*)?\}")
_VERBS = ("get", "put", "post", "delete", "patch")
# Source-info paths: FileDescriptorProto fields 4 (message_type), 5 (enum_type), 6 (service);
# DescriptorProto 2 (field), 3 (nested_type), 4 (enum_type), 8 (oneof_decl);
# EnumDescriptorProto 2 (value); ServiceDescriptorProto 2 (method).
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM, _ONEOF = 2, 3, 4, 8
_VALUE, _METHOD = 2, 2

_DESCRIPTION = """\
The HTTP/JSON face of the ibkr-grpc API, transcoded by Envoy from the gRPC services \
(the `google.api.http` annotations of `proto/ibkr/v1`). Generated from the descriptor set: \
do not edit.

- **Field names as in the proto** (`client_order_id`); requests may also use lowerCamelCase.
- **Every field is printed** in responses, unset ones too (`""`, `0`, `false`, `[]`, the \
`*_UNSPECIFIED` enum value), except unset messages, unset `optional` fields and oneof \
members that are not the one set.
- **Enums as names**, 64-bit integers as JSON strings, Timestamps in RFC 3339 (UTC), \
Durations as `"15s"`. Prices, quantities and money are exact decimal strings in plain notation \
(`"187.25"`); an empty string means not set.
- **Query parameters** are the request's fields by their proto names, nested ones with dots \
(`contract.security_type`); repeat a parameter for a list. Unknown parameters are refused.
- **Server streams** (marked `x-server-streaming`) answer 200 with newline-delimited JSON: one \
message per line as it happens, for as long as the stream is open. Envoy labels the body \
`application/json`. An error after the stream began ends it with a `google.rpc.Status` line.
- **Errors** are a `google.rpc.Status` as JSON whose details carry a `google.rpc.ErrorInfo` \
(domain `ibkr.v1`, a reason from the catalogue) and, by reason, `BadRequest`, \
`PreconditionFailure`, `QuotaFailure` or `RetryInfo`. gRPC codes map to HTTP statuses: \
INVALID_ARGUMENT, FAILED_PRECONDITION and OUT_OF_RANGE 400, UNAUTHENTICATED 401, \
PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409, RESOURCE_EXHAUSTED 429, \
CANCELLED 499, INTERNAL, UNKNOWN and DATA_LOSS 500, UNIMPLEMENTED 501, UNAVAILABLE 503, \
DEADLINE_EXCEEDED 504.
- Every call needs a bearer token (a JWT). The `x-request-id` response header finds the call \
in the server's logs; send your own and it is kept.
"""


@dataclass(frozen=True)
class Route:
    """One google.api.http binding of a method."""

    service: ServiceDescriptor
    method: MethodDescriptor
    verb: str
    template: str
    body: str
    response_body: str
    # 0 for the rule itself, 1... for its additional_bindings (their operationIds get a suffix).
    binding: int


def load_pool(descriptor_set: bytes) -> tuple[descriptor_pool.DescriptorPool, dict[str, str]]:
    """The descriptors of a serialized FileDescriptorSet, and its comments by full name."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    pool = descriptor_pool.DescriptorPool()
    comments: dict[str, str] = {}
    for file in files.file:
        pool.AddSerializedFile(file.SerializeToString())
        comments.update(_comments_of(file))
    return pool, comments


def _comment_text(location: descriptor_pb2.SourceCodeInfo.Location) -> str:
    text = "\n".join(
        part for part in (location.leading_comments, location.trailing_comments) if part.strip()
    )
    lines = [line.removeprefix(" ").rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip()


def _comments_of(file: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    by_path = {tuple(location.path): location for location in file.source_code_info.location}
    named: dict[str, str] = {}

    def note(name: str, path: tuple[int, ...]) -> None:
        location = by_path.get(path)
        text = _comment_text(location) if location is not None else ""
        if text:
            named[name] = text

    def enum(value: descriptor_pb2.EnumDescriptorProto, scope: str, path: tuple[int, ...]) -> None:
        full_name = f"{scope}.{value.name}"
        note(full_name, path)
        for index, item in enumerate(value.value):
            note(f"{full_name}.{item.name}", (*path, _VALUE, index))

    def message(value: descriptor_pb2.DescriptorProto, scope: str, path: tuple[int, ...]) -> None:
        full_name = f"{scope}.{value.name}"
        note(full_name, path)
        for index, field in enumerate(value.field):
            note(f"{full_name}.{field.name}", (*path, _FIELD, index))
        for index, oneof in enumerate(value.oneof_decl):
            note(f"{full_name}.{oneof.name}", (*path, _ONEOF, index))
        for index, nested in enumerate(value.nested_type):
            message(nested, full_name, (*path, _NESTED, index))
        for index, nested_enum in enumerate(value.enum_type):
            enum(nested_enum, full_name, (*path, _NESTED_ENUM, index))

    for index, value in enumerate(file.message_type):
        message(value, file.package, (_MESSAGE, index))
    for index, enum_value in enumerate(file.enum_type):
        enum(enum_value, file.package, (_ENUM, index))
    for index, service in enumerate(file.service):
        name = f"{file.package}.{service.name}"
        note(name, (_SERVICE, index))
        for number, method in enumerate(service.method):
            note(f"{name}.{method.name}", (_SERVICE, index, _METHOD, number))
    return named


def _files(pool: descriptor_pool.DescriptorPool, descriptor_set: bytes) -> list[FileDescriptor]:
    names = [file.name for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file]
    return [pool.FindFileByName(name) for name in names]


def routes(files: Sequence[FileDescriptor]) -> Iterator[Route]:
    """Every HTTP binding of every method, services in file order."""
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                rule = _http_rule(method)
                if rule is None:
                    continue
                for index, binding in enumerate((rule, *rule.additional_bindings)):
                    yield _route(service, method, binding, index)


def _http_rule(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    # googleapis-common-protos types the extension loosely; it is an HttpRule extension.
    rule: http_pb2.HttpRule = method.GetOptions().Extensions[annotations_pb2.http]  # type: ignore[index]
    return rule if rule.WhichOneof("pattern") else None


def _route(
    service: ServiceDescriptor, method: MethodDescriptor, rule: http_pb2.HttpRule, binding: int
) -> Route:
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        verb, template = rule.custom.kind.lower(), rule.custom.path
    elif pattern in _VERBS:
        verb, template = pattern, getattr(rule, pattern)
    else:
        raise ValueError(f"{method.full_name}: a google.api.http rule without a path")
    if method.client_streaming:
        raise ValueError(
            f"{method.full_name}: client-streaming methods have no HTTP/JSON description here"
        )
    return Route(service, method, verb, template, rule.body, rule.response_body, binding)


def _field_at(message: Descriptor, path: str) -> FieldDescriptor:
    """The field at a dotted path ("contract.symbol") of a message."""
    names = path.split(".")
    field = message.fields_by_name.get(names[0])
    for name in names[1:]:
        nested = field.message_type if field is not None else None
        field = nested.fields_by_name.get(name) if nested is not None else None
    if field is None:
        raise ValueError(f"{message.full_name} has no field {path!r}")
    return field


class DocumentBuilder:
    """Assembles the document: one operation per route, schemas shared in components."""

    def __init__(self, pool: descriptor_pool.DescriptorPool, comments: dict[str, str]) -> None:
        self._pool = pool
        self._comments = comments

    def build(self, files: Sequence[FileDescriptor], *, title: str) -> dict[str, Any]:
        all_routes = list(routes(files))
        packages = sorted({route.service.file.package for route in all_routes})
        status = self._pool.FindMessageTypeByName(STATUS)
        details_file = self._pool.FindFileByName("google/rpc/error_details.proto")
        schemas = SchemaBuilder(
            self._comments,
            response_messages=_reachable(
                [_response_message(route) for route in all_routes] + [status]
            ),
            api_packages=packages,
            error_details=list(details_file.message_types_by_name.values()),
            error_reasons=self._error_reasons(files, packages),
            rules=RuleBook(self._pool),
        )
        paths: dict[str, dict[str, Any]] = {}
        tags: dict[str, dict[str, str]] = {}
        for route in all_routes:
            path = _VARIABLE.sub(
                lambda match: "{" + parameter_name(match.group(1)) + "}", route.template
            )
            item = paths.setdefault(path, {})
            if route.verb in item:
                raise ValueError(f"two methods bind {route.verb.upper()} {path}")
            item[route.verb] = self._operation(route, schemas)
            tags.setdefault(route.service.name, self._tag(route.service))
        error = schemas.message(status, Direction.RESPONSE)
        return {
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": title,
                "version": ", ".join(packages),
                "description": _DESCRIPTION,
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "servers": [{"url": "/", "description": "The Envoy that serves this document"}],
            "security": [{"bearerAuth": []}],
            "tags": list(tags.values()),
            "paths": paths,
            "components": {
                "schemas": dict(sorted(schemas.components.items())),
                "responses": _error_responses(error),
                "headers": {
                    "RequestId": {
                        "description": "The call's id in the server's logs (the client's own "
                        "x-request-id when it sent one).",
                        "schema": {"type": "string"},
                    }
                },
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "bearerFormat": "JWT",
                        "description": "A token from `ibkr-grpc token` (or your identity "
                        "provider); its role and account scope decide what it may call.",
                    }
                },
            },
        }

    def _error_reasons(
        self, files: Sequence[FileDescriptor], packages: Sequence[str]
    ) -> dict[str, tuple[str, ...]]:
        """The catalogue: each API package's ErrorReason values without their prefix."""
        reasons: dict[str, tuple[str, ...]] = {}
        for file in files:
            if file.package not in packages or "ErrorReason" not in file.enum_types_by_name:
                continue
            enum_type: EnumDescriptor = file.enum_types_by_name["ErrorReason"]
            reasons[file.package] = tuple(
                value.name.removeprefix("ERROR_REASON_")
                for value in enum_type.values
                if value.number != 0
            )
        return reasons

    def _tag(self, service: ServiceDescriptor) -> dict[str, str]:
        tag = {"name": service.name}
        description = self._comments.get(service.full_name)
        if description:
            tag["description"] = description
        return tag

    def _operation(self, route: Route, schemas: SchemaBuilder) -> dict[str, Any]:
        method = route.method
        request = method.input_type
        bound = [match.group(1) for match in _VARIABLE.finditer(route.template)]
        parameters = [self._path_parameter(request, path, schemas) for path in bound]
        body_fields: list[str] = []
        if route.body and route.body != "*":
            body_fields = [route.body]
        if route.body != "*":
            parameters += self._query_parameters(request, set(bound) | set(body_fields), schemas)
        description = self._comments.get(method.full_name, "")
        operation: dict[str, Any] = {
            "tags": [route.service.name],
            "operationId": f"{route.service.name}_{method.name}"
            + (f"_{route.binding + 1}" if route.binding else ""),
            "summary": method.name,
        }
        if description:
            operation["description"] = description
        if parameters:
            operation["parameters"] = parameters
        if route.body:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self._body(route, bound, schemas)}},
            }
        operation["responses"] = {
            "200": self._success(route, schemas),
            "4XX": {"$ref": "#/components/responses/ClientError"},
            "5XX": {"$ref": "#/components/responses/ServerError"},
        }
        if method.server_streaming:
            operation[STREAM_EXTENSION] = True
        return operation

    # Parameters are scalars, enums and well-known types, all of them text in a URL: their
    # schemas are those of the printed form (a 64-bit integer as a string of digits).
    def _path_parameter(
        self, request: Descriptor, path: str, schemas: SchemaBuilder
    ) -> dict[str, Any]:
        field = _field_at(request, path)
        parameter: dict[str, Any] = {
            "name": parameter_name(path),
            "in": "path",
            "required": True,
            "schema": schemas.field(field, Direction.RESPONSE, with_rules=True),
        }
        description = parameter["schema"].pop("description", "")
        if "." in path:
            description = f"The request's `{path}`. {description}".strip()
        if description:
            parameter["description"] = description
        return parameter

    def _query_parameters(
        self, request: Descriptor, bound: set[str], schemas: SchemaBuilder
    ) -> list[dict[str, Any]]:
        parameters = []
        for path, field in _query_fields(request, bound):
            constrained = schemas.constrained(field, Direction.RESPONSE, with_rules=True)
            parameter: dict[str, Any] = {
                "name": path,
                "in": "query",
                "schema": constrained.described(self._comments.get(field.full_name)),
            }
            # A nested field's rules apply once its message is set, which a parameter of
            # another of its fields does too: only a top-level field can be required.
            if constrained.required and "." not in path:
                parameter["required"] = True
            description = parameter["schema"].pop("description", None)
            if description:
                parameter["description"] = description
            parameters.append(parameter)
        return parameters

    def _body(self, route: Route, bound: list[str], schemas: SchemaBuilder) -> Schema:
        request = route.method.input_type
        if route.body != "*":
            return schemas.field(_field_at(request, route.body), Direction.REQUEST)
        if not bound:
            return schemas.message(request, Direction.REQUEST)
        # The fields in the path are not read from the body: leave them out.
        return schemas.message_body(request, Direction.REQUEST, excluded=frozenset(bound))

    def _success(self, route: Route, schemas: SchemaBuilder) -> dict[str, Any]:
        method = route.method
        response = method.output_type
        if route.response_body:
            schema = schemas.field(_field_at(response, route.response_body), Direction.RESPONSE)
        else:
            schema = schemas.message(response, Direction.RESPONSE)
        description = f"A {response.name}."
        if method.server_streaming:
            description = (
                f"A stream: newline-delimited JSON, one {response.name} per line as it "
                "happens, for as long as the stream stays open (Envoy labels it "
                "application/json). An error after the stream began ends it with one "
                "google.rpc.Status line."
            )
            status = schemas.message(self._pool.FindMessageTypeByName(STATUS), Direction.RESPONSE)
            schema = {"anyOf": [schema, status]}
        return {
            "description": description,
            "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
            "content": {"application/json": {"schema": schema}},
        }


def parameter_name(field_path: str) -> str:
    """A path parameter's name: the field path with "_" for ".". Dots are legal in OpenAPI
    but tools that fill a template as Python's str.format does (schemathesis) read
    {contract.symbol} as an attribute of `contract`."""
    return field_path.replace(".", "_")


def _query_fields(
    message: Descriptor, bound: set[str], prefix: str = "", seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, FieldDescriptor]]:
    """The fields a query string can set, by dotted path: scalars, enums, well-known types
    and lists of them, and the fields of sub-messages (not maps or lists of messages)."""
    for field in message.fields:
        path = prefix + field.name
        if path in bound or is_map(field):
            continue
        nested = field.message_type
        if nested is None or well_known_schema(nested, Direction.REQUEST) is not None:
            yield path, field
        elif not field.is_repeated and nested.full_name not in seen:
            yield from _query_fields(nested, bound, path + ".", seen | {message.full_name})


def _response_message(route: Route) -> Descriptor:
    response = route.method.output_type
    if route.response_body:
        field = _field_at(response, route.response_body)
        if field.message_type is not None:
            return field.message_type
    return response


def _reachable(roots: Sequence[Descriptor]) -> set[str]:
    """The full names of the messages reachable from `roots` through their fields."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        message = pending.pop()
        if message.full_name in seen:
            continue
        seen.add(message.full_name)
        pending.extend(field.message_type for field in message.fields if field.message_type)
    return seen


def _error_responses(error: Schema) -> dict[str, Any]:
    described = {
        "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": error}},
    }
    return {
        "ClientError": {
            "description": "The call failed: a google.rpc.Status with a catalogue reason. "
            "Envoy's own refusals (JSON it cannot read, an unknown query parameter, a path or "
            "verb that no route declares, a request too large) have the same form, with "
            "reason VALIDATION_ERROR.",
            **described,
        },
        "ServerError": {
            "description": "The server failed (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, ...): "
            "a google.rpc.Status. When the server cannot be reached at all, Envoy answers 503 "
            "by itself, in plain text.",
            "headers": described["headers"],
            "content": {
                "application/json": {"schema": error},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
    }


def render(descriptor_set: bytes, *, title: str = "ibkr-grpc HTTP/JSON API") -> str:
    """The OpenAPI document (JSON text, ending with a newline) of a serialized descriptor set."""
    pool, comments = load_pool(descriptor_set)
    document = DocumentBuilder(pool, comments).build(_files(pool, descriptor_set), title=title)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ibkr_grpc.edge.openapi",
        description="Write the OpenAPI 3.1 document of the HTTP/JSON routes.",
    )
    parser.add_argument(
        "descriptor_set",
        type=Path,
        help="a FileDescriptorSet with imports and source info (buf build --as-file-descriptor-set)",
    )
    parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    arguments = parser.parse_args(argv)
    text = render(arguments.descriptor_set.read_bytes())
    if arguments.output is None:
        sys.stdout.write(text)
    else:
        arguments.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
