"""Runs fuzzed cases against a server (gRPC) and Envoy (HTTP/JSON) and sorts every answer:
a response, a catalogue error (its ErrorInfo reason one of ibkr.v1.ErrorReason), a stream
still open when the fuzz stopped reading, or a failure (INTERNAL, UNKNOWN, a 5xx, no
catalogue reason, a dropped connection, a unary call that did not answer in time)."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
import grpc.aio

from ibkr.v1 import errors_pb2
from ibkr_client import ApiError
from tests.fuzz.http_requests import HttpRequest, random_http_request
from tests.fuzz.messages import Method, random_request, undecodable

CATALOGUE = frozenset(
    name.removeprefix("ERROR_REASON_")
    for name in errors_pb2.ErrorReason.keys()  # noqa: SIM118 (an enum wrapper, not a dict)
    if name != "ERROR_REASON_UNSPECIFIED"
)
UNARY_DEADLINE = 15.0  # seconds; the server's own IB request timeout is shorter
STREAM_READ = 1.0  # seconds to wait for each of a stream's first messages
STREAM_MESSAGES = 3
FAILING_CODES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


@dataclass(frozen=True)
class Outcome:
    case: int
    method: str
    transport: str  # grpc, grpc-bytes, http
    kind: str  # answered, refused, open, failed
    detail: str  # the reason, HTTP status or what failed


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.kind == "failed"]

    def count(self, by: str) -> Counter[str]:
        return Counter(getattr(outcome, by) for outcome in self.outcomes)

    def covered(self, transport: str) -> set[str]:
        return {o.method for o in self.outcomes if o.transport == transport}


@dataclass(frozen=True)
class Target:
    grpc_address: str  # 127.0.0.1:port
    http_base: str | None  # Envoy, http://127.0.0.1:port; None for gRPC only
    tokens: Sequence[str | None]  # picked from at random; None sends no authorization


def _judge_rpc_error(error: grpc.aio.AioRpcError, streaming: bool) -> tuple[str, str]:
    api_error = ApiError.from_rpc_error(error)
    code = api_error.code
    if code in FAILING_CODES:
        return "failed", f"{code.name} {api_error.reason}: {api_error.message[:120]}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and not api_error.reason and not streaming:
        return "failed", "hang: no answer within the deadline"
    if api_error.reason not in CATALOGUE:
        return "failed", f"{code.name} without a catalogue reason: {api_error.message[:120]}"
    return "refused", f"{code.name} {api_error.reason}"


async def _grpc_case(
    channel: grpc.aio.Channel, method: Method, data: bytes, token: str | None
) -> tuple[str, str]:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    if not method.server_streaming:
        unary = channel.unary_unary(
            method.path, request_serializer=None, response_deserializer=None
        )
        try:
            await unary(data, metadata=metadata, timeout=UNARY_DEADLINE)
        except grpc.aio.AioRpcError as error:
            return _judge_rpc_error(error, streaming=False)
        return "answered", "OK"
    stream = channel.unary_stream(method.path, request_serializer=None, response_deserializer=None)
    call = stream(data, metadata=metadata)
    messages = aiter(call)
    try:
        for _ in range(STREAM_MESSAGES):
            await asyncio.wait_for(anext(messages), STREAM_READ)
    except StopAsyncIteration:
        return "answered", "OK (ended)"
    except TimeoutError:
        return "open", "stream open"
    except grpc.aio.AioRpcError as error:
        return _judge_rpc_error(error, streaming=True)
    finally:
        call.cancel()
    return "answered", "OK"


def _http_exchange(base: str, request: HttpRequest, token: str | None) -> tuple[str, str]:
    """One blocking HTTP request (run in a worker thread)."""
    host, port = base.removeprefix("http://").split(":")
    timeout = STREAM_READ * 2 if request.streaming else UNARY_DEADLINE
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"content-type": "application/json"} if request.body is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    try:
        connection.request(request.verb, request.target, body=request.body, headers=headers)
        response = connection.getresponse()
        body = response.readline() if request.streaming else response.read()
    except TimeoutError:
        if request.streaming:
            return "open", "stream open"
        return "failed", "hang: no answer within the deadline"
    except (ConnectionError, http.client.HTTPException) as error:
        return "failed", f"connection failed: {error!r}"
    finally:
        connection.close()
    return _judge_http(response.status, body, streaming=request.streaming)


def _reason_in(body: bytes) -> tuple[int | None, str]:
    try:
        status = json.loads(body)
    except ValueError:
        return None, ""
    if not isinstance(status, dict):
        return None, ""
    if isinstance(status.get("error"), dict):  # a stream's error arrives as {"error": {...}}
        status = status["error"]
    for detail in status.get("details") or ():
        if isinstance(detail, dict) and "reason" in detail:
            return status.get("code"), str(detail["reason"])
    return status.get("code"), ""


def _judge_http(status: int, body: bytes, *, streaming: bool) -> tuple[str, str]:
    code, reason = _reason_in(body)
    if status < 300:
        if streaming and code is not None and reason:
            # An error after the stream's 200: the client could not tell it from the status line.
            return "failed", f"HTTP {status} then a stream error {code} {reason}"
        return "answered", str(status)
    if status >= 500:
        return "failed", f"HTTP {status} {reason or body[:120]!r}"
    if reason not in CATALOGUE:
        return "failed", f"HTTP {status} without a catalogue reason: {body[:120]!r}"
    return _judge_catalogue(status, code, reason)


def _judge_catalogue(status: int, code: int | None, reason: str) -> tuple[str, str]:
    if code in (grpc.StatusCode.INTERNAL.value[0], grpc.StatusCode.UNKNOWN.value[0]):
        return "failed", f"HTTP {status} code {code} {reason}"
    return "refused", f"HTTP {status} {reason}"


async def run_case(
    index: int, seed: int, method: Method, target: Target, channel: grpc.aio.Channel, rounds: int
) -> Outcome:
    """Case `index` of run `seed` on `method`: the same seed and index give the same request."""
    rng = random.Random(f"{seed}:{index}")  # noqa: S311 (reproducible fuzz input, not secrets)
    token = rng.choice(target.tokens)
    transports = ["grpc", "grpc-bytes"]
    if target.http_base is not None and method.http_rule is not None:
        transports.append("http")
    # Each round through the methods takes the next transport, so every method gets each one.
    transport = transports[(index // rounds) % len(transports)]
    if transport == "http":
        assert target.http_base is not None
        request = random_http_request(method, rng)
        kind, detail = await asyncio.to_thread(_http_exchange, target.http_base, request, token)
    else:
        message = random_request(method.input_type, rng)
        data = message.SerializeToString()
        if transport == "grpc-bytes":
            data = undecodable(message, rng)
        kind, detail = await _grpc_case(channel, method, data, token)
    return Outcome(index, method.name, transport, kind, detail)


async def run_cases(
    methods: Sequence[Method],
    target: Target,
    *,
    seed: int,
    cases: int,
    concurrency: int = 8,
    first_case: int = 0,
) -> Tally:
    """`cases` cases, every method in turn, `concurrency` at a time."""
    tally = Tally()
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with slots:
            method = methods[index % len(methods)]
            tally.outcomes.append(
                await run_case(index, seed, method, target, channel, len(methods))
            )

    async with (
        grpc.aio.insecure_channel(target.grpc_address) as channel,
        asyncio.TaskGroup() as group,
    ):
        for index in range(first_case, first_case + cases):
            group.create_task(one(index))
    tally.outcomes.sort(key=lambda outcome: outcome.case)
    return tally
