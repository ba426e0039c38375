"""The server interceptor every call passes through: request id, logging, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import grpc
import grpc.aio
import structlog

from ibkr_grpc.api.audit import CallAudit
from ibkr_grpc.api.call_context import REQUEST_ID_KEY, request_id_from
from ibkr_grpc.api.errors import abort_with, is_cancellation, status_for_exception
from ibkr_grpc.domain.errors import ServiceUnavailableError
from ibkr_grpc.services.ports import Auditor

_log = structlog.get_logger("ibkr_grpc.api")

Context = grpc.aio.ServicerContext[Any, Any]
UnaryBehaviour = Callable[[Any, Context], Awaitable[Any]]
StreamBehaviour = Callable[[Any, Context], AsyncIterator[Any]]
if TYPE_CHECKING:
    # grpc-stubs makes the handler generic; at run time grpc's class is not subscriptable.
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler


class CallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps every handler so that each call has a request id (taken from `x-request-id` or
    made up, and returned in the response's initial metadata), its own log context, one log line
    at its end with its outcome and latency, and exceptions mapped by api.errors. When
    `shutting_down` is set, open streams end with UNAVAILABLE (SERVICE_UNAVAILABLE)."""

    def __init__(
        self,
        shutting_down: asyncio.Event,
        *,
        auditor: Auditor | None = None,
        audited_methods: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._shutting_down = shutting_down
        self._audit = CallAudit(auditor, audited_methods, clock) if auditor and clock else None

    async def intercept_service(  # type: ignore[override]  # grpc allows None: "no such method"
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if method.startswith(("/grpc.health.", "/grpc.reflection.")):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, cast("UnaryBehaviour", handler.unary_unary), self._audit),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(
                    method, cast("StreamBehaviour", handler.unary_stream), self._shutting_down
                ),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


async def _begin(method: str, context: Context) -> str:
    request_id = request_id_from(context.invocation_metadata())
    structlog.contextvars.bind_contextvars(request_id=request_id, method=method)
    await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
    return request_id


def _finish(started: float, outcome: str, **fields: object) -> None:
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    _log.info("call finished", outcome=outcome, latency_ms=latency_ms, **fields)
    structlog.contextvars.clear_contextvars()


def _wrap_unary(method: str, behaviour: UnaryBehaviour, audit: CallAudit | None) -> UnaryBehaviour:
    async def wrapped(request: Any, context: Context) -> Any:
        started = time.perf_counter()
        request_id = await _begin(method, context)
        try:
            response = await behaviour(request, context)
        except BaseException as error:
            if is_cancellation(error):
                _finish(started, "CANCELLED")
                raise
            status = status_for_exception(error, request_id)
            outcome = grpc.StatusCode(_code(status.code)).name
            if audit is not None:
                await audit.record(method, request_id, request, None, outcome, status.message)
            _finish(started, outcome, message=status.message)
            await abort_with(context, status)
        if audit is not None:
            await audit.record(method, request_id, request, response, "OK", "")
        _finish(started, "OK")
        return response

    return wrapped


def _wrap_stream(
    method: str, behaviour: StreamBehaviour, shutting_down: asyncio.Event
) -> StreamBehaviour:
    async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
        started = time.perf_counter()
        request_id = await _begin(method, context)
        sent = 0
        try:
            async for response in _until(behaviour(request, context), shutting_down):
                yield response
                sent += 1
        except BaseException as error:
            if is_cancellation(error):
                _finish(started, "CANCELLED", messages_sent=sent)
                raise
            status = status_for_exception(error, request_id)
            _finish(started, grpc.StatusCode(_code(status.code)).name, messages_sent=sent)
            await abort_with(context, status)
        _finish(started, "OK", messages_sent=sent)

    return wrapped


def _code(number: int) -> tuple[int, str]:
    return cast("tuple[int, str]", next(c.value for c in grpc.StatusCode if c.value[0] == number))


async def _until(stream: AsyncIterator[Any], stop: asyncio.Event) -> AsyncIterator[Any]:
    """The stream's items until `stop` is set, then ServiceUnavailableError. However it ends
    (exhausted, cancelled by the client, or stopped), the stream is closed at once, so its
    cleanup (releasing subscriptions) runs now rather than at garbage collection."""
    stopped = asyncio.ensure_future(stop.wait())
    item: asyncio.Future[Any] | None = None
    try:
        while True:
            item = asyncio.ensure_future(anext(stream))
            await asyncio.wait({item, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not item.done():
                message = "the server is shutting down; reconnect and resume"
                raise ServiceUnavailableError(message)
            try:
                value = item.result()
            except StopAsyncIteration:
                return
            item = None
            yield value
    finally:
        stopped.cancel()
        if item is not None and not item.done():
            item.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await item
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
