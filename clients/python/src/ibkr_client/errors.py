"""Reads the rich error details (google.rpc) that every failed ibkr.v1 call carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

# Module imports: google.rpc is a namespace package that mypy resolves only this way.
import google.rpc.error_details_pb2 as rpc_error_details
import google.rpc.status_pb2 as rpc_status
import grpc
import grpc.aio
from grpc_status import rpc_status as grpc_rpc_status

from ibkr.v1 import errors_pb2

ERROR_DOMAIN = "ibkr.v1"
_REQUEST_ID_KEY = "x-request-id"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request: its path ("contract.symbol") and what is wrong with it."""

    field: str
    description: str


@dataclass(frozen=True, slots=True)
class PreconditionViolation:
    """One rule that stopped the call (type "RISK", subject "max_order_quantity", ...)."""

    type: str
    subject: str
    description: str


@dataclass(frozen=True, slots=True)
class ApiError(Exception):
    """A failed ibkr.v1 call: its gRPC code and the details from the error catalogue.

    `reason` is the ErrorInfo reason ("VALIDATION_ERROR", "IB_ORDER_REJECTED", ...), empty when
    the failure carried none (for example a proxy or the network failed, not the server).
    """

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: tuple[FieldViolation, ...] = ()
    precondition_violations: tuple[PreconditionViolation, ...] = ()
    retry_delay: timedelta | None = None
    request_id: str = ""

    def __str__(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"

    @property
    def error_reason(self) -> errors_pb2.ErrorReason.ValueType:
        """The reason as the catalogue's enum; ERROR_REASON_UNSPECIFIED for one this client does
        not know (servers may add reasons within v1)."""
        try:
            return errors_pb2.ErrorReason.Value(f"ERROR_REASON_{self.reason}")
        except ValueError:
            return errors_pb2.ERROR_REASON_UNSPECIFIED

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> ApiError:
        request_id = ""
        for key, value in (*(error.initial_metadata() or ()), *(error.trailing_metadata() or ())):
            if key == _REQUEST_ID_KEY and isinstance(value, str):
                request_id = value
        # grpcio-status decodes grpc-status-details-bin and checks it agrees with the call's
        # code and message; a status it refuses (or none: grpc-core's own errors) has no details.
        try:
            status = grpc_rpc_status.from_call(error)  # type: ignore[arg-type]
        except ValueError:
            status = None
        if status is None:
            status = rpc_status.Status(code=error.code().value[0], message=error.details() or "")
        return _from_status(error.code(), error.details() or "", status, request_id)


def _from_status(
    code: grpc.StatusCode, message: str, status: rpc_status.Status, request_id: str
) -> ApiError:
    reason = ""
    metadata: dict[str, str] = {}
    fields: list[FieldViolation] = []
    preconditions: list[PreconditionViolation] = []
    retry_delay: timedelta | None = None
    for detail in status.details:
        info = rpc_error_details.ErrorInfo()
        bad_request = rpc_error_details.BadRequest()
        precondition = rpc_error_details.PreconditionFailure()
        retry = rpc_error_details.RetryInfo()
        if detail.Unpack(info):
            reason = info.reason if info.domain == ERROR_DOMAIN else ""
            metadata = dict(info.metadata)
        elif detail.Unpack(bad_request):
            fields.extend(
                FieldViolation(violation.field, violation.description)
                for violation in bad_request.field_violations
            )
        elif detail.Unpack(precondition):
            preconditions.extend(
                PreconditionViolation(violation.type, violation.subject, violation.description)
                for violation in precondition.violations
            )
        elif detail.Unpack(retry):
            retry_delay = retry.retry_delay.ToTimedelta()
    return ApiError(
        code=code,
        message=message,
        reason=reason,
        metadata=metadata,
        field_violations=tuple(fields),
        precondition_violations=tuple(preconditions),
        retry_delay=retry_delay,
        request_id=request_id,
    )
