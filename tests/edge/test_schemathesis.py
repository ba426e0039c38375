"""Every route of the OpenAPI document, fuzzed by schemathesis through Envoy in front of the real
server and the simulated gateway: no answer is a 5xx, and every answer (status, content type,
headers, body) is one the document describes.

Each operation gets a fixed number of seeded examples, schema-valid ones and schema-violating
ones, with no shrinking, so the run is bounded (IBKR_SCHEMATHESIS_EXAMPLES and
IBKR_SCHEMATHESIS_SEED change it). A server stream is read up to its first line, which is
checked as one message of the stream, and then closed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import hypothesis
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ibkr_grpc.edge.openapi import STREAM_EXTENSION
from tests.edge.conftest import Edge
from tests.edge.web import request

EXAMPLES = int(os.environ.get("IBKR_SCHEMATHESIS_EXAMPLES", "8"))
SEED = int(os.environ.get("IBKR_SCHEMATHESIS_SEED", "18"))
# A unary call answers within this; a stream's first line may wait for its first heartbeat
# (schemathesis may ask for one every 300 s), so an open stream with no line yet passes.
UNARY_TIMEOUT = 15.0
FIRST_LINE_TIMEOUT = 2.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _first_line(response: requests.Response) -> bytes | None:
    """The stream's first line, or None when none arrived within the read timeout."""
    try:
        return next(response.iter_lines(), None)
    except requests.exceptions.ConnectionError:
        return None  # requests reports a read timeout on a streamed body this way


def _call(case: Case[Any], base_url: str, headers: dict[str, str], *, streaming: bool) -> int:
    """Sends the case and checks the answer; its HTTP status."""
    if not streaming:
        response = case.call(base_url=base_url, headers=headers, timeout=UNARY_TIMEOUT)
        case.validate_response(response, checks=CHECKS)
        return response.status_code
    arguments = case.as_transport_kwargs(base_url=base_url, headers=headers)
    started = time.monotonic()
    with requests.request(**arguments, stream=True, timeout=(5, FIRST_LINE_TIMEOUT)) as opened:
        if opened.status_code == 200:
            line = _first_line(opened)
            if line is None:
                return opened.status_code
            content = line
        else:
            content = opened.content  # a refusal comes whole (trailers-only)
        # The one message read, checked as the document describes each line of the stream.
        response = Response(
            status_code=opened.status_code,
            headers={name.lower(): [value] for name, value in opened.headers.items()},
            content=content,
            request=opened.request,
            elapsed=time.monotonic() - started,
            verify=True,
        )
    case.validate_response(response, checks=CHECKS)
    return response.status_code


def _fuzz(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    call: Callable[[Case[Any]], None],
) -> str | None:
    """Runs the examples of one operation in one generation mode; the first failure's text."""

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def examples(case: Case[Any]) -> None:
        call(case)

    try:
        examples()
    except Exception as error:  # noqa: BLE001  every failure is reported, with its case
        return f"{operation.label} ({mode.value}): {error}"
    return None


def run_every_route(base_url: str, headers: dict[str, str]) -> tuple[Counter[str], list[str]]:
    """Each operation's answers (`GET /v1/orders 200`), and the failures."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=SchemathesisConfig())
    schema.validate()
    failures: list[str] = []
    answers: Counter[str] = Counter()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(
                f"the document describes an operation schemathesis cannot use: {result.err()}"
            )
            continue
        operation = result.ok()
        streaming = bool(operation.definition.raw.get(STREAM_EXTENSION))

        def call(
            case: Case[Any], *, label: str = operation.label, streaming: bool = streaming
        ) -> None:
            answers[f"{label} {_call(case, base_url, headers, streaming=streaming)}"] += 1

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _fuzz(operation, mode, call)
            if failure is not None:
                failures.append(failure)
    return answers, failures


async def test_every_route_answers_as_the_document_says(edge: Edge) -> None:
    answers, failures = await asyncio.to_thread(run_every_route, edge.base_url, edge.authorization)
    assert not failures, "\n\n".join(failures)
    operations = {answer.rsplit(" ", 1)[0] for answer in answers}
    succeeded = {answer.rsplit(" ", 1)[0] for answer in answers if answer.endswith(" 200")}
    print("\n".join(f"{answer}: {count}" for answer, count in sorted(answers.items())))  # noqa: T201
    assert len(operations) >= 30, "every route of the document was called"
    # Not only refusals: most routes also answered a generated request with data.
    assert len(succeeded) >= len(operations) // 3, sorted(operations - succeeded)


async def test_headers_grpc_cannot_carry_are_dropped_not_a_500(edge: Edge) -> None:
    """Found by the run above: HTTP/1.1 allows header names such as "d&" that gRPC refuses
    (its names are [0-9a-z_.-]), and the server's gRPC core failed such a call as INTERNAL."""
    odd = {"d&": "1", "x!y": "2", "a~b": "3"}
    response = await request(
        edge.base_url, "GET", "/v1/gateway/status", headers=edge.authorization | odd
    )
    assert response.status == 200, response
    assert response.json()["status"]["state"] == "CONNECTION_STATE_READY"
