"""Client interceptors that put the bearer token, a request id and a default deadline on calls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, cast

import grpc
import grpc.aio

REQUEST_ID_KEY = "x-request-id"
AUTHORIZATION_KEY = "authorization"

# The continuation grpc.aio hands an interceptor; grpc-stubs types it loosely.
_Continuation = Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]]


def new_request_id() -> str:
    return uuid.uuid4().hex


class _MetadataInjector:
    """Adds the metadata every call carries, and a deadline to unary calls that have none."""

    def __init__(self, *, token: str | None, default_timeout: float | None) -> None:
        self._token = token
        self._default_timeout = default_timeout

    def details(
        self, details: grpc.aio.ClientCallDetails, *, unary: bool
    ) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(tuple(details.metadata or ())))
        if REQUEST_ID_KEY not in metadata:
            metadata.add(REQUEST_ID_KEY, new_request_id())
        if self._token is not None and AUTHORIZATION_KEY not in metadata:
            metadata.add(AUTHORIZATION_KEY, f"Bearer {self._token}")
        timeout = details.timeout
        if timeout is None and unary:
            timeout = self._default_timeout
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


class UnaryMetadataInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Metadata and a default deadline for unary calls."""

    def __init__(self, injector: _MetadataInjector) -> None:
        self._injector = injector

    async def intercept_unary_unary(
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._injector.details(client_call_details, unary=True), request)


class StreamMetadataInterceptor(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    """Metadata for server streams; they get no default deadline, since they are meant to last."""

    def __init__(self, injector: _MetadataInjector) -> None:
        self._injector = injector

    async def intercept_unary_stream(  # type: ignore[override]
        self,
        continuation: _Continuation,
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> AsyncIterable[Any]:
        call = await continuation(self._injector.details(client_call_details, unary=False), request)
        return cast("AsyncIterable[Any]", call)


def metadata_interceptors(
    *, token: str | None, default_timeout: float | None
) -> list[grpc.aio.ClientInterceptor]:
    injector = _MetadataInjector(token=token, default_timeout=default_timeout)
    interceptors: list[object] = [
        UnaryMetadataInterceptor(injector),
        StreamMetadataInterceptor(injector),
    ]
    # grpc-stubs leaves ClientInterceptor as an opaque type that only a cast satisfies.
    return cast("list[grpc.aio.ClientInterceptor]", interceptors)
