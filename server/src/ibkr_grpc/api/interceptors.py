"""The server interceptor every call passes through: request id, logging, error mapping, and
the checks (receiving, decoding, authentication, the request's rules) that run before a call
sends anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, cast

import google.rpc.status_pb2 as rpc_status
import grpc
import grpc.aio
import structlog
from google.protobuf.message import DecodeError

from ibkr_grpc.api.audit import CallAudit
from ibkr_grpc.api.call_context import REQUEST_ID_KEY, request_id_from
from ibkr_grpc.api.call_recorder import CallRecorder
from ibkr_grpc.api.errors import abort_with, is_cancellation, status_for_exception
from ibkr_grpc.api.request_rules import RequestRules
from ibkr_grpc.domain.errors import (
    IncompleteRequestError,
    ServiceError,
    ServiceUnavailableError,
    UndecodableRequestError,
)
from ibkr_grpc.services.ports import Auditor

_log = structlog.get_logger("ibkr_grpc.api")

Context = grpc.aio.ServicerContext[Any, Any]
UnaryBehaviour = Callable[[Any, Context], Awaitable[Any]]
StreamBehaviour = Callable[[Any, Context], AsyncIterator[Any]]
RequestsUnaryBehaviour = Callable[[AsyncIterator[Any], Context], Awaitable[Any]]
RequestsStreamBehaviour = Callable[[AsyncIterator[Any], Context], AsyncIterator[Any]]
if TYPE_CHECKING:
    # grpc-stubs makes the handler generic; at run time grpc's class is not subscriptable.
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler


Deserializer = Callable[[bytes], Any]

# Checks a call before it runs (authentication and authorization); raises ServiceError.
Gatekeeper = Callable[[str, Any, Context], Awaitable[None]]
# Authenticates a reflection call from a peer that is not on this machine.
ReflectionGuard = Callable[[str, Context], object]

# How long a unary request's one message may take to arrive once the call has begun. Requests
# here are small (kilobytes); the bound is for a frame that announces more bytes than it
# carries, which grpc-core would otherwise await until the client's deadline, if any.
REQUEST_RECEIVE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class CallHooks:
    """Everything the interceptor does around a call besides the call itself."""

    shutting_down: asyncio.Event
    audit: CallAudit | None = None
    recorder: CallRecorder | None = None
    gatekeeper: Gatekeeper | None = None
    reflection_guard: ReflectionGuard | None = None
    # The rules of the request messages (buf.validate in proto/), checked after the gatekeeper.
    rules: RequestRules = field(default_factory=RequestRules)
    # The tasks serving open streams: shutdown cancels them, and they end with UNAVAILABLE.
    open_streams: set[asyncio.Task[Any]] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class UndecodableRequest:
    """What the request deserializer hands on for bytes that are not the method's message:
    the call then ends with INVALID_ARGUMENT (after authentication) instead of grpc's UNKNOWN."""

    message_name: str
    # An empty message of the method's type, for the gatekeeper and the audit.
    empty: Any


class CallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps every handler so that each call has a request id (taken from `x-request-id` or
    made up, and returned in the response's metadata), its own log context, one log line at its
    end with its outcome and latency, its metrics, its audit entry (for mutating methods), the
    gatekeeper's check, the request's rules from its .proto (api.request_rules), and exceptions
    mapped by api.errors. Nothing is sent before the request is decoded, authenticated, checked
    against its rules and (for streams, whose servicers read it before they return their
    generator) read, so an error is a trailers-only response: an HTTP error
    status through Envoy's transcoder, not a 200 with the error in its body. When
    `shutting_down` is set, open streams end with UNAVAILABLE (SERVICE_UNAVAILABLE)."""

    def __init__(
        self,
        shutting_down: asyncio.Event,
        *,
        auditor: Auditor | None = None,
        audited_methods: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] | None = None,
        recorder: CallRecorder | None = None,
        gatekeeper: Gatekeeper | None = None,
        reflection_guard: ReflectionGuard | None = None,
        receive_timeout: float = REQUEST_RECEIVE_TIMEOUT_SECONDS,
    ) -> None:
        audit = CallAudit(auditor, audited_methods, clock) if auditor and clock else None
        self._hooks = CallHooks(shutting_down, audit, recorder, gatekeeper, reflection_guard)
        self._receive_timeout = receive_timeout

    def end_streams(self) -> None:
        """At shutdown (after setting `shutting_down`): end every open stream with UNAVAILABLE."""
        for task in tuple(self._hooks.open_streams):
            task.cancel()

    async def streams_ended(self, seconds: float) -> None:
        """Wait, boundedly, until the streams end_streams ended have written their status: the
        server's stop closes the connections, and a status not yet written would reach the
        client as a bare UNAVAILABLE without its reason."""
        streams = tuple(self._hooks.open_streams)
        if streams:
            await asyncio.wait(streams, timeout=seconds)

    async def flush_audit(self) -> None:
        """At shutdown: write the audit entries still waiting for the database."""
        if self._hooks.audit is not None:
            await self._hooks.audit.flush()

    async def intercept_service(  # type: ignore[override]  # grpc allows None: "no such method"
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if method.startswith("/grpc.reflection."):
            return _guard_reflection(method, handler, self._hooks.reflection_guard)
        unary = cast("UnaryBehaviour | None", handler.unary_unary)
        streaming = cast("StreamBehaviour | None", handler.unary_stream)
        if not method.startswith("/grpc.health."):
            if unary is not None:
                unary = _wrap_unary(method, unary, self._hooks)
            if streaming is not None:
                streaming = _wrap_stream(method, streaming, self._hooks)
        # Served as request-streaming methods so that the one request is read here, with a
        # timeout: for a unary method grpc reads it before any server code runs, and awaits an
        # incomplete one for as long as the client keeps its connection.
        if unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _received_unary(method, unary, self._receive_timeout),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if streaming is not None:
            return grpc.stream_stream_rpc_method_handler(
                _received_stream(method, streaming, self._receive_timeout),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler


class _Call:
    """One call's bookkeeping: names, start time, request id, metrics and the final log line."""

    def __init__(self, full_method: str, kind: str, hooks: CallHooks) -> None:
        self.full_method = full_method
        service, _, self.method = full_method.lstrip("/").partition("/")
        self.service = service
        self.kind = kind
        self.hooks = hooks
        self.started = time.perf_counter()
        self.request_id = ""
        self.metadata_sent = False

    async def begin(self, request: Any, context: Context) -> None:
        """Identify, authenticate, decode and check the call against its request's rules; sends
        nothing."""
        self.request_id = request_id_from(context.invocation_metadata())
        structlog.contextvars.bind_contextvars(request_id=self.request_id, method=self.full_method)
        if self.hooks.recorder is not None:
            self.hooks.recorder.started(self.kind, self.service, self.method)
        undecodable = request if isinstance(request, UndecodableRequest) else None
        if self.hooks.gatekeeper is not None:
            readable = request if undecodable is None else undecodable.empty
            await self.hooks.gatekeeper(self.full_method, readable, context)
        if undecodable is not None:
            raise UndecodableRequestError(undecodable.message_name)
        self.hooks.rules.check(request)

    async def send_metadata(self, context: Context) -> None:
        """The response's initial metadata, once the call has passed its checks."""
        await context.send_initial_metadata(((REQUEST_ID_KEY, self.request_id),))
        self.metadata_sent = True

    async def abort(self, context: Context, status: rpc_status.Status) -> NoReturn:
        # Before the initial metadata the error is trailers-only: the request id goes with it.
        request_id = () if self.metadata_sent else ((REQUEST_ID_KEY, self.request_id),)
        await abort_with(context, status, request_id)

    def sent(self, seconds: float) -> None:
        if self.hooks.recorder is not None:
            self.hooks.recorder.message_sent(self.kind, self.service, self.method, seconds)

    def failed(self, error: BaseException) -> rpc_status.Status:
        status = status_for_exception(error, self.request_id)
        if self.hooks.recorder is not None and isinstance(error, ServiceError):
            self.hooks.recorder.refused(self.method, error.reason)
        return status

    def finish(self, outcome: str, **fields: object) -> None:
        seconds = time.perf_counter() - self.started
        if self.hooks.recorder is not None:
            self.hooks.recorder.handled(self.kind, self.service, self.method, outcome, seconds)
        _log.info("call finished", outcome=outcome, latency_ms=round(seconds * 1000, 3), **fields)
        structlog.contextvars.clear_contextvars()


def _wrap_unary(method: str, behaviour: UnaryBehaviour, hooks: CallHooks) -> UnaryBehaviour:
    async def wrapped(request: Any, context: Context) -> Any:
        call = _Call(method, "UNARY", hooks)
        audit = hooks.audit
        try:
            await call.begin(request, context)
            response = await behaviour(request, context)
            await call.send_metadata(context)
        except BaseException as error:
            if is_cancellation(error):
                call.finish("CANCELLED")
                raise
            status = call.failed(error)
            outcome = grpc.StatusCode(_code(status.code)).name
            if audit is not None:
                audited = request.empty if isinstance(request, UndecodableRequest) else request
                await audit.record(method, call.request_id, audited, None, outcome, status.message)
            call.finish(outcome, message=status.message)
            await call.abort(context, status)
        if audit is not None:
            await audit.record(method, call.request_id, request, response, "OK", "")
        call.sent(0.0)
        call.finish("OK")
        return response

    return wrapped


def _wrap_stream(method: str, behaviour: StreamBehaviour, hooks: CallHooks) -> StreamBehaviour:
    async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
        call = _Call(method, "SERVER_STREAMING", hooks)
        sent = 0
        recorder = hooks.recorder
        opened = False
        task = asyncio.current_task()
        try:
            await call.begin(request, context)
            # The servicers validate the request when called and return their generator then:
            # a bad request ends here, before the initial metadata.
            stream = behaviour(request, context)
            # Closed at once however the stream ends, so that its cleanup (releasing
            # subscriptions) runs now rather than at garbage collection.
            async with aclosing(stream) as responses:  # type: ignore[type-var]
                await call.send_metadata(context)
                if recorder is not None:
                    recorder.stream_opened(call.method)
                    opened = True
                if task is not None:
                    hooks.open_streams.add(task)
                async for response in responses:
                    handed = time.perf_counter()
                    yield response
                    call.sent(time.perf_counter() - handed)
                    sent += 1
        except GeneratorExit:
            # grpc stopped iterating: the client cancelled while a message was being sent,
            # and this generator is being closed. The call is over; nothing can be sent.
            call.finish("CANCELLED", messages_sent=sent)
            raise
        except BaseException as error:
            if is_cancellation(error) and not hooks.shutting_down.is_set():
                call.finish("CANCELLED", messages_sent=sent)
                raise
            if is_cancellation(error):
                message = "the server is shutting down; reconnect and resume"
                error = ServiceUnavailableError(message)
            status = call.failed(error)
            call.finish(grpc.StatusCode(_code(status.code)).name, messages_sent=sent)
            await call.abort(context, status)
        finally:
            if task is not None:
                hooks.open_streams.discard(task)
            if opened and recorder is not None:
                recorder.stream_closed(call.method)
        call.finish("OK", messages_sent=sent)

    return wrapped


async def _one_request(
    method: str, requests: AsyncIterator[Any], context: Context, seconds: float
) -> Any:
    """The call's one request message, or INVALID_ARGUMENT (before anything is sent) when none
    arrives whole within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            return await anext(requests)
    except StopAsyncIteration:
        error = IncompleteRequestError("is missing: the call ended without one")
    except TimeoutError:
        error = IncompleteRequestError(f"did not arrive whole within {seconds:g} s")
    _log.info("incomplete request", method=method, error=str(error))
    return await abort_with(context, status_for_exception(error, request_id_from(None)))


def _received_unary(
    method: str, behaviour: UnaryBehaviour, timeout: float
) -> RequestsUnaryBehaviour:
    async def received(requests: AsyncIterator[Any], context: Context) -> Any:
        return await behaviour(await _one_request(method, requests, context, timeout), context)

    return received


def _received_stream(
    method: str, behaviour: StreamBehaviour, timeout: float
) -> RequestsStreamBehaviour:
    async def received(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
        request = await _one_request(method, requests, context, timeout)
        async with aclosing(behaviour(request, context)) as responses:  # type: ignore[type-var]
            async for response in responses:
                yield response

    return received


def _guard_reflection(method: str, handler: Handler, guard: ReflectionGuard | None) -> Handler:
    """Reflection stays open to this machine; other peers need a valid token."""
    if guard is None or handler.stream_stream is None:
        return handler
    behaviour = cast(
        "Callable[[AsyncIterator[Any], Context], AsyncIterator[Any]]", handler.stream_stream
    )

    async def guarded(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
        try:
            guard(method, context)
        except ServiceError as error:
            await abort_with(context, status_for_exception(error, request_id_from(None)))
        async for response in behaviour(requests, context):
            yield response

    return grpc.stream_stream_rpc_method_handler(
        guarded,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _tolerant(deserializer: Deserializer | None) -> Deserializer | None:
    """`deserializer`, handing on an UndecodableRequest for bytes it cannot decode (grpc would
    answer UNKNOWN "Unexpected <class DecodeError>" before the call even started)."""
    if deserializer is None:
        return None
    # The generated handlers' deserializer is the request class's FromString.
    message_class = getattr(deserializer, "__self__", None)
    message_name = getattr(getattr(message_class, "DESCRIPTOR", None), "full_name", "message")

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            empty = message_class() if callable(message_class) else None
            return UndecodableRequest(message_name, empty)

    return deserialize


def _code(number: int) -> tuple[int, str]:
    return cast("tuple[int, str]", next(c.value for c in grpc.StatusCode if c.value[0] == number))
