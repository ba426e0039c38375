"""The OpenAPI document generated from the descriptor set: up to date with proto/, valid
OpenAPI 3.1, one operation per google.api.http binding, and the proto3 JSON mapping as Envoy's
transcoder applies it (proto field names, int64 as strings, enums as names, streams, errors)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from google.protobuf import descriptor_pb2
from schemathesis.config import SchemathesisConfig

from ibkr_grpc.edge import openapi
from tests.contract.contract_helpers import http_rule_of
from tests.edge.envoy_process import COMMITTED_DESCRIPTOR_SET, REPOSITORY

COMMITTED_DOCUMENT = REPOSITORY / "envoy" / "openapi.json"
BUF = REPOSITORY / "node_modules" / ".bin" / "buf"
GOOGLEAPIS = REPOSITORY / "third_party" / "googleapis"
SCHEMAS = "#/components/schemas/"


def build_descriptor_set(output: Path) -> bytes:
    """The descriptor set `make generate` builds for the generator: imports and comments."""
    result = subprocess.run(
        [
            BUF,
            "build",
            "--path",
            "proto/ibkr",
            "--path",
            str(GOOGLEAPIS.relative_to(REPOSITORY) / "google/rpc/status.proto"),
            "--path",
            str(GOOGLEAPIS.relative_to(REPOSITORY) / "google/rpc/error_details.proto"),
            "--as-file-descriptor-set",
            "-o",
            str(output),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return output.read_bytes()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COMMITTED_DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each operation by its id: (verb, path, operation)."""
    return {
        operation["operationId"]: (verb, path, operation)
        for path, item in document["paths"].items()
        for verb, operation in item.items()
    }


def parameters(operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == where}


def component(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][
        reference["$ref"].removeprefix(SCHEMAS)
    ]
    return schema


def test_the_committed_document_is_generated_from_the_current_protos(tmp_path: Path) -> None:
    descriptor_set = build_descriptor_set(tmp_path / "with-comments.binpb")
    assert COMMITTED_DOCUMENT.read_text(encoding="utf-8") == openapi.render(descriptor_set), (
        "envoy/openapi.json is out of date: run `make generate`"
    )


def test_the_document_is_valid_openapi_3_1_with_valid_json_schemas(
    document: dict[str, Any],
) -> None:
    assert document["openapi"] == "3.1.1"
    schemathesis.openapi.from_dict(document, config=SchemathesisConfig()).validate()
    for name, schema in document["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            pytest.fail(f"{name}: {error.message}")


def test_every_http_binding_in_envoys_descriptor_set_is_an_operation(
    document: dict[str, Any],
) -> None:
    """Read independently of the generator, from the descriptor set Envoy transcodes with."""
    files = descriptor_pb2.FileDescriptorSet.FromString(COMMITTED_DESCRIPTOR_SET.read_bytes())
    expected = {}
    for file in files.file:
        for service in file.service:
            for method in service.method:
                rule = http_rule_of(method.options)
                if not rule.WhichOneof("pattern"):
                    continue
                for index, binding in enumerate((rule, *rule.additional_bindings)):
                    verb = binding.WhichOneof("pattern")
                    path = re.sub(r"\{(\w+)\.(\w+)\}", r"{\1_\2}", getattr(binding, verb))
                    suffix = f"_{index + 1}" if index else ""
                    expected[f"{service.name}_{method.name}{suffix}"] = (verb, path)
    found = {name: (verb, path) for name, (verb, path, _) in operations(document).items()}
    assert found == expected
    count = sum(len(item) for item in document["paths"].values())
    assert count == len(found), "operation ids are unique"
    assert len(found) >= 30


def test_query_parameters_are_every_field_not_in_the_path_by_proto_name(
    document: dict[str, Any],
) -> None:
    verb, path, bars = operations(document)["MarketDataService_GetHistoricalBars"]
    assert (verb, path) == ("get", "/v1/contracts/{contract_symbol}/bars")
    assert set(parameters(bars, "path")) == {"contract_symbol"}
    assert "contract.symbol" in parameters(bars, "path")["contract_symbol"]["description"]
    query = parameters(bars, "query")
    for name in ("bar_size", "span.count", "span.unit", "start_time", "end_time", "source"):
        assert name in query, name
    assert "regular_trading_hours_only" in query
    assert "contract.security_type" in query
    assert "contract.symbol" not in query
    assert query["start_time"]["schema"]["format"] == "date-time"
    assert query["contract.con_id"]["schema"]["type"] == "string", "int64 as digits"
    assert component(document, query["bar_size"]["schema"])["type"] == "string"

    _, _, orders = operations(document)["OrderService_ListOrders"]
    statuses = parameters(orders, "query")["statuses"]
    assert statuses["schema"]["type"] == "array", "a repeated field is a repeated parameter"
    assert "ORDER_STATUS_FILLED" in component(document, statuses["schema"]["items"])["enum"]

    _, _, events = operations(document)["OrderService_StreamOrderEvents"]
    interval = parameters(events, "query")["heartbeat_interval"]["schema"]
    assert interval["pattern"].endswith("s$"), "a Duration is seconds with an s"


def test_bodies_are_the_request_without_the_fields_in_the_path(document: dict[str, Any]) -> None:
    _, _, place = operations(document)["OrderService_PlaceOrder"]
    body = place["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": SCHEMAS + "ibkr.v1.PlaceOrderRequest"}
    request = component(document, body)
    # Only what the request rules refuse to miss (buf.validate, tests/edge/test_openapi_rules.py).
    assert request["required"] == ["side", "quantity", "order_type"]
    assert request["properties"]["contract"]["$ref"] == SCHEMAS + "ibkr.v1.ContractInput"
    assert "Idempotent on client_order_id" in place["description"], "the RPC's comment"

    _, _, modify = operations(document)["OrderService_ModifyOrder"]
    body = modify["requestBody"]["content"]["application/json"]["schema"]
    assert "order_id" not in body["properties"]
    assert "quantity" in body["properties"]
    assert set(parameters(modify, "path")) == {"order_id"}
    assert not parameters(modify, "query")


def test_responses_follow_the_json_mapping_as_envoy_prints_it(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    contract = schemas["ibkr.v1.Contract"]
    assert contract["properties"]["con_id"]["type"] == "string", "int64 printed as a string"
    assert set(schemas["ibkr.v1.ContractInput"]["properties"]["con_id"]["type"]) == {
        "string",
        "integer",
    }, "requests may send a number"
    assert "con_id" in contract["required"], "fields without presence are always printed"
    order = schemas["ibkr.v1.Order"]
    assert "child_order_ids" in order["required"]
    assert "contract" not in order["required"], "an unset message is left out"
    limits = schemas["ibkr.v1.RiskLimits"]
    assert "max_open_orders" not in limits["required"], "an unset optional is left out"
    assert "max_order_quantity" in limits["required"]
    assert schemas["ibkr.v1.Side"]["enum"] == ["SIDE_UNSPECIFIED", "SIDE_BUY", "SIDE_SELL"]
    assert "- `SIDE_BUY`" not in schemas["ibkr.v1.Side"].get("description", "")
    assert schemas["ibkr.v1.OrderType"]["description"].count("- `ORDER_TYPE_") >= 5
    assert schemas["ibkr.v1.Quote"]["description"].startswith("Top of book"), "its comment"
    heartbeat = schemas["ibkr.v1.Heartbeat"]["properties"]["server_time"]
    assert heartbeat["format"] == "date-time"

    # A oneof: at most one member present.
    events = schemas["ibkr.v1.StreamOrderEventsResponse"]
    validator = jsonschema.Draft202012Validator(
        {"$ref": SCHEMAS + "ibkr.v1.StreamOrderEventsResponse", **document}
    )
    assert "oneOf" in events
    assert validator.is_valid({"heartbeat": {"server_time": "2026-11-02T15:00:00Z"}})
    assert validator.is_valid({})
    assert not validator.is_valid({"heartbeat": {}, "marker": {}})


def test_server_streams_are_newline_delimited_json_of_their_message_or_a_status(
    document: dict[str, Any],
) -> None:
    streams = {
        name: operation
        for name, (_, _, operation) in operations(document).items()
        if operation.get(openapi.STREAM_EXTENSION)
    }
    assert {"OrderService_StreamOrderEvents", "MarketDataService_StreamQuotes"} <= set(streams)
    for name, operation in streams.items():
        success = operation["responses"]["200"]
        assert "newline-delimited JSON" in success["description"], name
        line = success["content"]["application/json"]["schema"]
        assert {"$ref": SCHEMAS + "google.rpc.Status"} in line["anyOf"], name
    _, _, unary = operations(document)["OrderService_GetOrder"]
    assert openapi.STREAM_EXTENSION not in unary


def test_errors_are_a_status_with_catalogue_reasons_and_calls_need_a_bearer_token(
    document: dict[str, Any],
) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for verb, path, operation in operations(document).values():
        responses = operation["responses"]
        assert set(responses) == {"200", "4XX", "5XX"}, (verb, path)

    responses = document["components"]["responses"]
    status = responses["ClientError"]["content"]["application/json"]["schema"]
    assert status == {"$ref": SCHEMAS + "google.rpc.Status"}
    info = document["components"]["schemas"]["google.rpc.ErrorInfo"]
    from ibkr.v1 import errors_pb2  # noqa: PLC0415  the generated catalogue, for comparison

    catalogue = {
        value.name.removeprefix("ERROR_REASON_")
        for value in errors_pb2.ErrorReason.DESCRIPTOR.values
        if value.number
    }
    assert set(info["properties"]["reason"]["enum"]) == catalogue
    assert info["properties"]["domain"]["enum"] == ["ibkr.v1"]

    validator = jsonschema.Draft202012Validator({**status, **document})
    envoy_refusal = {
        "code": 3,
        "message": "invalid request: ...",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "VALIDATION_ERROR",
                "domain": "ibkr.v1",
            }
        ],
    }
    assert validator.is_valid(envoy_refusal)
    wrong_reason = json.loads(json.dumps(envoy_refusal))
    wrong_reason["details"][0]["reason"] = "NOT_IN_THE_CATALOGUE"
    assert not validator.is_valid(wrong_reason)
    other_detail = {"code": 5, "message": "", "details": [{"@type": "example.com/Other"}]}
    assert validator.is_valid(other_detail)


SYNTHETIC_PROTO = """\
syntax = "proto3";

package example.v1;

import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";
import "google/rpc/error_details.proto";
import "google/rpc/status.proto";

// Things, for the generator's own tests.
service ThingService {
  // Reads a thing.
  rpc GetThing(GetThingRequest) returns (Thing) {
    option (google.api.http) = {
      get: "/v1/shelves/{shelf.name}/things/{id}"
      additional_bindings {get: "/v1/things/{id}"}
    };
  }
  // Stores the thing in the body.
  rpc PutThing(PutThingRequest) returns (PutThingResponse) {
    option (google.api.http) = {
      put: "/v1/things/{id}"
      body: "thing"
      response_body: "thing"
    };
  }
  rpc Poke(PokeRequest) returns (Thing) {
    option (google.api.http) = {
      custom: {kind: "HEAD", path: "/v1/things:poke"}
    };
  }
  rpc Unannotated(PokeRequest) returns (Thing);
}

message Shelf {
  string name = 1;
  Shelf parent = 2;
}

message GetThingRequest {
  Shelf shelf = 1;
  uint64 id = 2;
  repeated Thing examples = 3;
  map<string, int32> labels = 4;
  bool verbose = 5;
}

// A thing.
message Thing {
  uint64 id = 1;
  double weight = 2;
  bytes blob = 3;
  map<string, Thing> parts = 4;
  optional int32 rank = 5;
  oneof owner {
    string person = 6;
    string team = 7;
  }
  google.protobuf.Timestamp created = 8;
  Thing parent = 9;
}

message PutThingRequest {
  uint64 id = 1;
  Thing thing = 2;
  string reason = 3;
}

message PutThingResponse {
  Thing thing = 1;
}

message PokeRequest {
  sint64 strength = 1;
}
"""


def test_the_generator_covers_what_any_descriptor_set_holds(tmp_path: Path) -> None:
    """Bindings, verbs and types that ibkr.v1 does not use (yet) are described too."""
    (tmp_path / "example" / "v1").mkdir(parents=True)
    (tmp_path / "example" / "v1" / "things.proto").write_text(SYNTHETIC_PROTO)
    output = tmp_path / "things.binpb"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{tmp_path}",
            f"-I{GOOGLEAPIS}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={output}",
            "example/v1/things.proto",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    generated = json.loads(openapi.render(output.read_bytes(), title="Things"))
    schemathesis.openapi.from_dict(generated, config=SchemathesisConfig()).validate()
    found = operations(generated)
    assert found["ThingService_GetThing_2"][:2] == ("get", "/v1/things/{id}"), "a binding"
    paths = {(verb, path) for path, item in generated["paths"].items() for verb in item}
    assert paths == {
        ("get", "/v1/shelves/{shelf_name}/things/{id}"),
        ("get", "/v1/things/{id}"),
        ("put", "/v1/things/{id}"),
        ("head", "/v1/things:poke"),
    }
    assert "ThingService_Unannotated" not in found

    get = generated["paths"]["/v1/shelves/{shelf_name}/things/{id}"]["get"]
    query = parameters(get, "query")
    # Nested fields by dotted path, recursion cut at a repeated type, no maps or message lists.
    assert set(query) == {"shelf.parent.name", "verbose"}
    assert parameters(get, "path")["id"]["schema"]["pattern"] == "^[0-9]+$"

    put = generated["paths"]["/v1/things/{id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "example.v1.ThingInput"
    )
    assert set(parameters(put, "query")) == {"reason"}
    assert put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "example.v1.Thing"
    )

    thing = generated["components"]["schemas"]["example.v1.Thing"]
    properties = thing["properties"]
    assert properties["weight"]["anyOf"][0] == {"type": "number", "format": "double"}
    assert properties["blob"] == {"type": "string", "contentEncoding": "base64"}
    assert properties["parts"]["type"] == "object"
    assert properties["parts"]["additionalProperties"] == {"$ref": SCHEMAS + "example.v1.Thing"}
    assert set(thing["required"]) == {"id", "weight", "blob", "parts"}
    assert "At most one of `person`, `team`" in thing["description"]
    assert thing["description"].startswith("A thing.")
    assert thing["oneOf"][:2] == [{"required": ["person"]}, {"required": ["team"]}]
    poke = generated["paths"]["/v1/things:poke"]["head"]
    assert parameters(poke, "query")["strength"]["schema"]["format"] == "int64"


def test_command_line_writes_the_document(tmp_path: Path) -> None:
    descriptor_set = tmp_path / "with-comments.binpb"
    build_descriptor_set(descriptor_set)
    output = tmp_path / "openapi.json"
    assert openapi.main([str(descriptor_set), "-o", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == COMMITTED_DOCUMENT.read_text(encoding="utf-8")
