"""The request rules (protovalidate's buf.validate annotations) in the OpenAPI document: what
JSON Schema can say becomes keywords of the request schemas and parameters, the rest is listed
in `x-cel-rules` and the description. The keywords must agree with protovalidate itself: a value
the schema allows is one the server's rules accept, and the other way round."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jsonschema
import protovalidate
import pytest
import schemathesis
from google.protobuf import descriptor_pool, json_format
from schemathesis.config import SchemathesisConfig

from ibkr.v1 import (
    common_pb2,
    gateway_service_pb2,
    market_data_service_pb2,
    option_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)
from ibkr_grpc.edge import openapi
from ibkr_grpc.edge.openapi_cel import Kind, Subject, Translator, UnsupportedError
from ibkr_grpc.edge.openapi_rules import CEL_EXTENSION
from tests.edge.envoy_process import REPOSITORY
from tests.edge.test_openapi import COMMITTED_DOCUMENT, GOOGLEAPIS, SCHEMAS, operations, parameters

PROTOVALIDATE = REPOSITORY / "third_party" / "protovalidate"

RULES_PROTO = """\
syntax = "proto3";

package example.v1;

import "buf/validate/validate.proto";
import "google/api/annotations.proto";
import "google/protobuf/duration.proto";
import "google/rpc/error_details.proto";
import "google/rpc/status.proto";

service ShelfService {
  rpc CreateBook(CreateBookRequest) returns (Book) {
    option (google.api.http) = {post: "/v1/books" body: "*"};
  }
  rpc GetBook(GetBookRequest) returns (Book) {
    option (google.api.http) = {get: "/v1/books/{name}"};
  }
}

enum Genre {
  GENRE_UNSPECIFIED = 0;
  GENRE_FICTION = 1;
  GENRE_POETRY = 2;
  GENRE_DRAMA = 3;
}

message Book {
  string title = 1;
  Genre genre = 2;
}

message CreateBookRequest {
  option (buf.validate.message).cel = {
    id: "title.not_author"
    message: "must differ from the author"
    expression: "this.title != this.author"
  };
  string title = 1 [(buf.validate.field).string = {min_len: 1, max_len: 200}];
  string author = 2 [(buf.validate.field).cel = {
    id: "author.letters"
    message: "must be letters and spaces"
    expression: "this == '' || this.matches('^[A-Za-z ]{1,80}$')"
  }];
  Genre genre = 3 [(buf.validate.field).enum = {defined_only: true, not_in: [0, 3]}];
  Genre shelf_genre = 4 [
    (buf.validate.field).enum = {in: [1, 2]},
    (buf.validate.field).ignore = IGNORE_IF_ZERO_VALUE
  ];
  repeated string tags = 5 [(buf.validate.field).repeated = {
    max_items: 5
    unique: true
    items: {string: {pattern: "^[a-z]+$"}}
  }];
  int32 pages = 6 [(buf.validate.field).int32 = {gt: 0, lte: 5000}];
  string isbn = 7 [
    (buf.validate.field).required = true,
    (buf.validate.field).cel = {
      id: "isbn.check_digit"
      message: "must end with a valid check digit"
      expression: "int(this.substring(12)) >= 0"
    }
  ];
  google.protobuf.Duration reading_time = 8 [(buf.validate.field).duration = {
    gte: {seconds: 60}
    lte: {seconds: 36000}
  }];
  string id = 9 [
    (buf.validate.field).string.uuid = true,
    (buf.validate.field).ignore = IGNORE_IF_ZERO_VALUE
  ];
  Book sequel_of = 10 [(buf.validate.field).required = true];
  optional int32 edition = 11 [(buf.validate.field).int32.gte = 1];
  uint64 copies = 12 [(buf.validate.field).uint64 = {lte: 1000000}];
}

message GetBookRequest {
  string name = 1 [(buf.validate.field).string = {min_len: 3, max_len: 40}];
  Genre genre = 2 [(buf.validate.field).required = true];
  int32 page = 3;
}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document of RULES_PROTO."""
    directory = tmp_path_factory.mktemp("rules")
    (directory / "example" / "v1").mkdir(parents=True)
    (directory / "example" / "v1" / "shelf.proto").write_text(RULES_PROTO)
    output = directory / "shelf.binpb"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{directory}",
            f"-I{GOOGLEAPIS}",
            f"-I{PROTOVALIDATE}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={output}",
            "example/v1/shelf.proto",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(openapi.render(output.read_bytes(), title="Shelf"))
    return document


def _create_book(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"]["example.v1.CreateBookRequest"]
    return schema


def test_the_document_with_rules_stays_valid_openapi_3_1(generated: dict[str, Any]) -> None:
    schemathesis.openapi.from_dict(generated, config=SchemathesisConfig()).validate()
    for name, schema in generated["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            pytest.fail(f"{name}: {error.message}")


def test_string_number_and_list_rules_are_keywords(generated: dict[str, Any]) -> None:
    properties = _create_book(generated)["properties"]
    title = properties["title"]
    assert (title["minLength"], title["maxLength"]) == (1, 200)
    pages = properties["pages"]
    assert (pages["exclusiveMinimum"], pages["maximum"]) == (0, 5000)
    assert properties["edition"]["minimum"] == 1
    tags = properties["tags"]
    assert (tags["maxItems"], tags["uniqueItems"]) == (5, True)
    assert tags["items"]["pattern"] == "^[a-z]+$"
    # A CEL rule that only matches the value is a pattern; '' is allowed beside it.
    assert properties["author"]["anyOf"] == [
        {"enum": [""]},
        {"pattern": "^[A-Za-z ]{1,80}$"},
    ]
    # IGNORE_IF_ZERO_VALUE: the empty string passes, any other value is a UUID.
    uuid = properties["id"]["anyOf"]
    assert uuid[0] == {"enum": [""]}
    assert uuid[1]["format"] == "uuid"
    copies = properties["copies"]
    assert copies["maximum"] == 1000000
    assert "at most 1000000 (a string of digits too)" in copies["description"]


def test_enum_rules_list_only_the_allowed_names(generated: dict[str, Any]) -> None:
    properties = _create_book(generated)["properties"]
    genre = properties["genre"]
    assert genre["$ref"] == SCHEMAS + "example.v1.Genre", "the enum's own schema stays"
    assert genre["enum"] == ["GENRE_FICTION", "GENRE_POETRY"], "defined_only, not_in [0, 3]"
    shelf = properties["shelf_genre"]["enum"]
    assert shelf == ["GENRE_UNSPECIFIED", "GENRE_FICTION", "GENRE_POETRY"], "in, or unset"


def test_required_are_the_fields_the_rules_refuse_to_miss(generated: dict[str, Any]) -> None:
    request = _create_book(generated)
    # `required`, and fields whose zero value (what a missing key means) breaks a rule.
    assert set(request["required"]) == {"title", "genre", "pages", "isbn", "sequel_of"}
    assert request["properties"]["isbn"]["minLength"] == 1
    _, _, get = operations(generated)["ShelfService_GetBook"]
    name = parameters(get, "path")["name"]["schema"]
    assert (name["minLength"], name["maxLength"]) == (3, 40)
    query = parameters(get, "query")
    assert query["genre"]["required"] is True
    assert "GENRE_UNSPECIFIED" not in query["genre"]["schema"]["enum"]
    assert "required" not in query["page"]


def test_rules_json_schema_cannot_say_are_listed_and_described(
    generated: dict[str, Any],
) -> None:
    request = _create_book(generated)
    assert request[CEL_EXTENSION] == [
        {
            "id": "title.not_author",
            "message": "must differ from the author",
            "expression": "this.title != this.author",
        }
    ]
    assert "`title.not_author`: must differ from the author" in request["description"]
    isbn = request["properties"]["isbn"]
    assert [rule["id"] for rule in isbn[CEL_EXTENSION]] == ["isbn.check_digit"]
    assert "must end with a valid check digit" in isbn["description"]
    reading_time = request["properties"]["reading_time"]["description"]
    assert 'at least "60s"' in reading_time
    assert 'at most "36000s"' in reading_time
    # The translated rule is not listed again.
    assert CEL_EXTENSION not in request["properties"]["author"]


def test_a_body_the_schema_allows_or_refuses(generated: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(
        {"$ref": SCHEMAS + "example.v1.CreateBookRequest", **generated}
    )
    book = {
        "title": "Dune",
        "genre": "GENRE_FICTION",
        "pages": 412,
        "isbn": "9780441013593",
        "sequel_of": {},
        "tags": ["classic", "desert"],
    }
    assert validator.is_valid(book)
    for change in (
        {"genre": "GENRE_DRAMA"},
        {"genre": "GENRE_UNSPECIFIED"},
        {"pages": 0},
        {"title": ""},
        {"tags": ["classic", "classic"]},
        {"tags": ["Classic"]},
        {"author": "R2-D2"},
        {"id": "not-a-uuid"},
    ):
        assert not validator.is_valid(book | change), change
    assert validator.is_valid(book | {"id": "", "author": "", "shelf_genre": "GENRE_UNSPECIFIED"})
    missing = {key: value for key, value in book.items() if key != "isbn"}
    assert not validator.is_valid(missing)


@pytest.mark.parametrize(
    ("expression", "subject", "expected"),
    [
        ("size(this) <= 40", Subject(Kind.STRING), [{"maxLength": 40}]),
        (
            # CEL's own \\x escapes, as the descriptor holds the expression.
            "size(this) <= 64 && !this.matches('[\\x00-\\x1f\\x7f]')",
            Subject(Kind.STRING),
            [{"maxLength": 64}, {"not": {"pattern": "[\x00-\x1f\x7f]"}}],
        ),
        (
            "this != 1",
            Subject(Kind.ENUM, {0: "SIZE_UNSPECIFIED", 1: "SIZE_SMALL", 2: "SIZE_LARGE"}),
            [{"enum": ["SIZE_UNSPECIFIED", "SIZE_LARGE"]}],
        ),
        (
            "this >= 1 && this < 10",
            Subject(Kind.INTEGER),
            [{"minimum": 1}, {"exclusiveMaximum": 10}],
        ),
        # A predefined rule: `rule` is the extension's value, the result the violation's text.
        (
            (
                "!rule ? '' : this == '' ? 'is required'"
                " : this.startsWith('-') || !this.matches('[1-9]') ? 'must be above zero' : ''"
            ),
            Subject(Kind.STRING, rule=True),
            [{"minLength": 1}, {"not": {"pattern": "^-"}}, {"pattern": "[1-9]"}],
        ),
        # RE2's \\p{Z} in a class: Unicode's separators, spelled out.
        (
            "this.matches(r'[^\\x09-\\x0d\\p{Z}]')",
            Subject(Kind.STRING),
            [{"pattern": "[^\\x09-\\x0d \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"}],
        ),
        (
            "size(this) <= 3 && this.all(tag, tag.startsWith('#'))",
            Subject(Kind.STRING, repeated=True),
            [{"maxItems": 3}, {"items": {"pattern": "^#"}}],
        ),
        ("!(size(this) > 64)", Subject(Kind.STRING), [{"maxLength": 64}]),
    ],
)
def test_cel_that_json_schema_can_say(
    expression: str, subject: Subject, expected: list[dict[str, Any]]
) -> None:
    assert Translator(subject).rule(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "this.title != this.author",  # another field
        "double(this) < 100.0",  # a conversion
        "this.matches(r'[^\\p{L}]')",  # a Unicode class Python's re does not read
        "this.matches('^a.b$')",  # '.' excludes different line ends across engines
        "this.all(item, item.matches('^[a-z]+$'))",  # a list's macro on one value
    ],
)
def test_cel_that_json_schema_cannot_say_is_refused(expression: str) -> None:
    with pytest.raises(UnsupportedError):
        Translator(Subject(Kind.STRING)).rule(expression)


# Values tried on every request field that holds one (not messages, not lists). A value the
# field's schema allows must be one protovalidate accepts for that field, and the other way round.
_SAMPLES: dict[str, list[Any]] = {
    "string": [
        "",
        " ",
        "a",
        "AAPL",
        "BRK B",
        "SMART",
        "DU1234567",
        "187.25",
        "-0.5",
        "0",
        "0.0",
        "150",
        "1e5",
        "+1",
        "12345678901234567890",
        "1.12345678901",
        "2026-01-30",
        "20261120",
        "202611",
        "20261301",
        "x" * 33,
        "x" * 41,
        "x" * 65,
        "a\tb",
        "a\x00b",
        "é",
        "\u00a0",
        "\u3000\u2028",
        "\u0085",
        "a\u3000",
    ],
    "integer": [-1, 0, 1, 4, 5, 20, 21, 100, 101, 1000, 1001, 2147483647],
}
_MODULES = (
    common_pb2,
    gateway_service_pb2,
    market_data_service_pb2,
    option_service_pb2,
    order_service_pb2,
    portfolio_service_pb2,
    risk_service_pb2,
)


def _messages() -> dict[str, Any]:
    """Every message class of the API by full name."""
    return {
        descriptor.full_name: getattr(module, name)
        for module in _MODULES
        for name, descriptor in module.DESCRIPTOR.message_types_by_name.items()
    }


def _checked_schemas(document: dict[str, Any]) -> list[tuple[Any, str, dict[str, Any]]]:
    """(message class, field name, schema) of every request field's value: each property of a
    request-side component, and each top-level parameter of an operation."""
    schemas = document["components"]["schemas"]
    classes = _messages()
    found = []
    for name, schema in schemas.items():
        message_class = classes.get(name.removesuffix("Input"))
        if message_class is None or not (name.endswith(("Input", "Request"))):
            continue
        found += [(message_class, field, value) for field, value in schema["properties"].items()]
    for operation_id, (_, _, operation) in operations(document).items():
        service, method = operation_id.split("_")[:2]
        found_service = descriptor_pool.Default().FindServiceByName(f"ibkr.v1.{service}")
        request = classes[found_service.methods_by_name[method].input_type.full_name]
        for parameter in operation.get("parameters", []):
            if parameter["name"] in request.DESCRIPTOR.fields_by_name:
                found.append((request, parameter["name"], parameter["schema"]))
    return found


def _violated(
    validator: protovalidate.Validator, message_class: Any, body: dict[str, Any], field: str
) -> bool:
    request = json_format.ParseDict(body, message_class())
    for violation in validator.collect_violations(request):
        path = violation.proto.field
        if path is not None and path.elements and path.elements[0].field_name == field:
            return True
    return False


def test_the_committed_schemas_agree_with_protovalidate() -> None:
    """Only values the field's rules judge alone: fields with a rule the schema only describes
    are left out, and a violation counts when it is about the field."""
    document = json.loads(COMMITTED_DOCUMENT.read_text(encoding="utf-8"))
    rules = protovalidate.Validator()
    checked = 0
    disagreements = []
    for message_class, field_name, schema in _checked_schemas(document):
        field = message_class.DESCRIPTOR.fields_by_name[field_name]
        if field.message_type is not None or field.is_repeated or CEL_EXTENSION in schema:
            continue
        if field.enum_type is not None:
            values: list[Any] = [value.name for value in field.enum_type.values]
        elif field.type == field.TYPE_STRING:
            values = _SAMPLES["string"]
        elif field.type in {field.TYPE_INT32, field.TYPE_INT64}:
            values = _SAMPLES["integer"]
            if "string" in schema.get("type", ""):
                values = [str(value) for value in values]  # a parameter: digits
        else:
            continue
        validator = jsonschema.Draft202012Validator({**schema, **document})
        for value in values:
            allowed = validator.is_valid(value)
            accepted = not _violated(rules, message_class, {field_name: value}, field_name)
            checked += 1
            if allowed != accepted:
                name = message_class.DESCRIPTOR.full_name
                disagreements.append(f"{name}.{field_name} = {value!r}: schema allows {allowed}")
    assert not disagreements, "\n".join(disagreements)
    assert checked > 800


def test_the_committed_document_carries_the_api_rules() -> None:
    document = json.loads(COMMITTED_DOCUMENT.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    quotes = schemas["ibkr.v1.StreamQuotesRequest"]
    assert (quotes["properties"]["contracts"]["minItems"], quotes["required"]) == (1, ["contracts"])
    contract = schemas["ibkr.v1.ContractInput"]
    assert "symbol.required" in {rule["id"] for rule in contract[CEL_EXTENSION]}
    assert CEL_EXTENSION not in schemas["ibkr.v1.Contract"], "responses carry no request rules"
    _, _, bars = operations(document)["MarketDataService_StreamBars"]
    bar_size = parameters(bars, "query")["bar_size"]
    assert bar_size["required"] is True
    # required, and a CEL rule `this != 1`: IB keeps no 1-second bars up to date.
    assert "BAR_SIZE_1_SECOND" not in bar_size["schema"]["enum"]
    assert "BAR_SIZE_UNSPECIFIED" not in bar_size["schema"]["enum"]
    _, _, order = operations(document)["OrderService_GetOrder"]
    order_id = parameters(order, "path")["order_id"]["schema"]
    assert (order_id["minLength"], order_id["maxLength"]) == (1, 40)
    interval = parameters(bars, "query")["heartbeat_interval"]
    assert 'at least "1s"' in interval["description"]
