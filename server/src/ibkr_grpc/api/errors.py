"""The one mapping from exceptions to gRPC status with google.rpc details (the error catalogue)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import NoReturn

import google.rpc.code_pb2 as rpc_code
import google.rpc.error_details_pb2 as rpc_error_details
import google.rpc.status_pb2 as rpc_status
import grpc
import grpc.aio
import structlog
from google.protobuf import duration_pb2
from grpc_status import rpc_status as grpc_rpc_status

from ibkr_grpc.domain.errors import ErrorKind, GatewayUnavailableError, ServiceError

ERROR_DOMAIN = "ibkr.v1"
_log = structlog.get_logger("ibkr_grpc.api.errors")

_CODES: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}


def grpc_code(kind: ErrorKind) -> grpc.StatusCode:
    return _CODES[kind]


def _duration(delta: timedelta) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(delta)
    return duration


# The status travels in headers (grpc-message, grpc-status-details-bin) that a client, or Envoy,
# refuses past 8 KiB: every text is bounded so that the error itself always reaches the caller.
MAXIMUM_MESSAGE = 512
MAXIMUM_TEXT = 160
MAXIMUM_METADATA_VALUE = 256
MAXIMUM_FIELD_VIOLATIONS = 20


def bounded(text: str, limit: int = MAXIMUM_TEXT) -> str:
    """`text`, cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_of(error: ServiceError) -> rpc_status.Status:
    """The google.rpc.Status for a service error, with every detail it carries (its texts
    bounded, and at most MAXIMUM_FIELD_VIOLATIONS field violations)."""
    code = grpc_code(error.kind)
    message = error.message
    violations = error.field_violations
    if len(violations) > MAXIMUM_FIELD_VIOLATIONS:
        message = f"{len(violations)} bad fields, the first {MAXIMUM_FIELD_VIOLATIONS}: {message}"
        violations = violations[:MAXIMUM_FIELD_VIOLATIONS]
    status = rpc_status.Status(code=code.value[0], message=bounded(message, MAXIMUM_MESSAGE))
    info = rpc_error_details.ErrorInfo(
        domain=ERROR_DOMAIN,
        reason=error.reason,
        metadata={
            key: bounded(value, MAXIMUM_METADATA_VALUE) for key, value in error.metadata.items()
        },
    )
    status.details.add().Pack(info)
    if violations:
        bad_request = rpc_error_details.BadRequest()
        for violation in violations:
            bad_request.field_violations.add(
                field=bounded(violation.field), description=bounded(violation.description)
            )
        status.details.add().Pack(bad_request)
    if error.precondition_violations:
        failure = rpc_error_details.PreconditionFailure()
        for precondition in error.precondition_violations:
            failure.violations.add(
                type=precondition.type,
                subject=bounded(precondition.subject),
                description=bounded(precondition.description, MAXIMUM_MESSAGE),
            )
        status.details.add().Pack(failure)
    if error.quota_violations:
        quota = rpc_error_details.QuotaFailure()
        for quota_violation in error.quota_violations:
            quota.violations.add(
                subject=bounded(quota_violation.subject),
                description=bounded(quota_violation.description),
            )
        status.details.add().Pack(quota)
    if error.retry_after is not None:
        retry = rpc_error_details.RetryInfo(retry_delay=_duration(error.retry_after))
        status.details.add().Pack(retry)
    return status


def internal_status(request_id: str) -> rpc_status.Status:
    status = rpc_status.Status(
        code=rpc_code.INTERNAL,
        message=f"internal error; quote request id {request_id} when reporting it",
    )
    info = rpc_error_details.ErrorInfo(domain=ERROR_DOMAIN, reason="INTERNAL_ERROR")
    status.details.add().Pack(info)
    return status


def status_for_exception(error: BaseException, request_id: str) -> rpc_status.Status:
    """The status a caller sees for any exception; unexpected ones never leak their text."""
    if isinstance(error, ServiceError):
        return status_of(error)
    if isinstance(error, ConnectionError):
        # The gateway's socket failed under a request no service translated (ib_async fails
        # every pending request with ConnectionError): retryable, never INTERNAL.
        _log.warning("the gateway connection failed under a call", request_id=request_id)
        return status_of(
            GatewayUnavailableError(
                "the connection to IB Gateway failed; retry", retry_after=timedelta(seconds=2)
            )
        )
    _log.error("unexpected error", request_id=request_id, exc_info=error)
    return internal_status(request_id)


async def abort_with(
    context: grpc.aio.ServicerContext[object, object],
    status: rpc_status.Status,
    metadata: tuple[tuple[str, str], ...] = (),
) -> NoReturn:
    """End the call with `status` (its details in grpc-status-details-bin, by grpcio-status);
    `metadata` goes with it in the trailers."""
    standard = grpc_rpc_status.to_status(status)
    await context.abort(
        standard.code,
        standard.details,
        trailing_metadata=(*standard.trailing_metadata, *metadata),
    )
    raise AssertionError  # abort raises; this satisfies NoReturn for the type checker


def is_cancellation(error: BaseException) -> bool:
    """Client cancellations and grpc's own aborts pass through the mapping untouched."""
    return isinstance(error, asyncio.CancelledError | grpc.aio.AbortError)
