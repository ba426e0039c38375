"""The service's one error taxonomy. Each error knows its catalogue reason and its status kind;
the API layer maps kinds to gRPC codes in one place (ibkr_grpc.api.errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class ErrorKind(StrEnum):
    """The canonical status kinds (the names of the gRPC codes), without depending on grpc."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INTERNAL = "INTERNAL"


# How much of a caller's value an error text quotes: enough to recognise it, never enough to
# outgrow the response's metadata (status details travel in a header of at most 8 KiB).
SHOWN_CHARACTERS = 64


def shown(value: str) -> str:
    """`value` quoted for an error text, cut to SHOWN_CHARACTERS with an ellipsis."""
    if len(value) <= SHOWN_CHARACTERS:
        return repr(value)
    return f"{value[:SHOWN_CHARACTERS]!r}… ({len(value)} characters)"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    field: str
    description: str


@dataclass(frozen=True, slots=True)
class PreconditionViolation:
    type: str
    subject: str
    description: str


@dataclass(frozen=True, slots=True)
class QuotaViolation:
    subject: str
    description: str


class ServiceError(Exception):
    """An expected failure, reported to the caller with its reason from the error catalogue."""

    reason: str = "INTERNAL_ERROR"
    kind: ErrorKind = ErrorKind.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        metadata: dict[str, str] | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
        precondition_violations: tuple[PreconditionViolation, ...] = (),
        quota_violations: tuple[QuotaViolation, ...] = (),
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = dict(metadata or {})
        self.field_violations = field_violations
        self.precondition_violations = precondition_violations
        self.quota_violations = quota_violations
        self.retry_after = retry_after


class ValidationError(ServiceError):
    reason = "VALIDATION_ERROR"
    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(self, violations: list[FieldViolation] | tuple[FieldViolation, ...]) -> None:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid request: {summary}", field_violations=tuple(violations))


class IncompleteRequestError(ServiceError):
    """A unary request's message did not arrive whole: none came before the client ended its
    side, or it was still incomplete (a frame announcing more bytes than it carried) when the
    receive timeout ran out."""

    reason = "VALIDATION_ERROR"
    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(self, description: str) -> None:
        super().__init__(
            f"invalid request: the request message {description}",
            field_violations=(FieldViolation("", description),),
        )


class UndecodableRequestError(ServiceError):
    """The request's bytes are not the protobuf message the method takes."""

    reason = "VALIDATION_ERROR"
    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(self, message_name: str) -> None:
        description = f"is not a valid {message_name} in the protobuf binary format"
        super().__init__(
            f"invalid request: the request {description}",
            field_violations=(FieldViolation("", description),),
        )


class OrderValidationError(ValidationError):
    reason = "ORDER_VALIDATION_FAILED"


class OrderNotFoundError(ServiceError):
    reason = "ORDER_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


class EventsArchivedError(ServiceError):
    """A StreamOrderEvents resume from a sequence some later events of which were archived:
    replaying what is left would skip them silently. A field violation of after_sequence, with
    the sequences to resume from in the metadata, under a reason of its own so that a consumer
    can tell it from a malformed request and resynchronise."""

    reason = "EVENTS_ARCHIVED"
    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(self, *, after_sequence: int, archived_through: int, oldest_retained: int) -> None:
        description = (
            f"events after {after_sequence} up to {archived_through} were archived; resume "
            f"with after_sequence {archived_through} or later, or replay_from_start for the "
            "retained events"
        )
        super().__init__(
            f"invalid request: after_sequence: {description}",
            metadata={
                "after_sequence": str(after_sequence),
                "archived_through_sequence": str(archived_through),
                "oldest_retained_sequence": str(oldest_retained),
            },
            field_violations=(FieldViolation("after_sequence", description),),
        )


class AccountNotFoundError(ServiceError):
    reason = "ACCOUNT_NOT_FOUND"
    kind = ErrorKind.NOT_FOUND


class InvalidContractError(ServiceError):
    reason = "IB_INVALID_CONTRACT"
    kind = ErrorKind.NOT_FOUND


class DuplicateClientOrderIdError(ServiceError):
    reason = "DUPLICATE_CLIENT_ORDER_ID"
    kind = ErrorKind.ALREADY_EXISTS


class OrderNotModifiableError(ServiceError):
    reason = "ORDER_NOT_MODIFIABLE"
    kind = ErrorKind.FAILED_PRECONDITION


class BrokerRejectedError(ServiceError):
    reason = "IB_ORDER_REJECTED"
    kind = ErrorKind.FAILED_PRECONDITION


class CommandRefusedError(ServiceError):
    """IB refused a modify or cancel; the order is unchanged and keeps IB's last status."""

    reason = "IB_COMMAND_REFUSED"
    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(
        self, message: str, *, order_id: str, ib_error_code: int, ib_message: str = ""
    ) -> None:
        super().__init__(
            message,
            metadata={
                "order_id": order_id,
                "ib_error_code": str(ib_error_code),
                # IB's own words, for a UI that says them once (bounded like any detail).
                "ib_message": ib_message[:200],
            },
            precondition_violations=(PreconditionViolation("IB", order_id, message),),
        )


class TradingModeMismatchError(ServiceError):
    """The accounts IB reports do not match TRADING_MODE: no order command is served."""

    reason = "TRADING_MODE_MISMATCH"
    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            precondition_violations=(PreconditionViolation("TRADING_MODE", "gateway", message),),
        )


class InsufficientFundsError(ServiceError):
    """IB's what-if says the order would need more initial margin than the account has
    available: refused before it is sent."""

    reason = "INSUFFICIENT_FUNDS"
    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, message: str, *, account: str, required: str, available: str) -> None:
        super().__init__(
            message,
            metadata={"account": account, "required": required, "available": available},
            precondition_violations=(PreconditionViolation("MARGIN", account, message),),
        )


class GatewayUnavailableError(ServiceError):
    reason = "IB_CONNECTION_FAILED"
    kind = ErrorKind.UNAVAILABLE


class BrokerTimeoutError(ServiceError):
    reason = "IB_REQUEST_TIMEOUT"
    kind = ErrorKind.DEADLINE_EXCEEDED


class MarketDataError(ServiceError):
    reason = "IB_MARKET_DATA_ERROR"
    kind = ErrorKind.UNAVAILABLE


class PacingViolationError(ServiceError):
    reason = "IB_PACING_VIOLATION"
    kind = ErrorKind.RESOURCE_EXHAUSTED


class RateLimitExceededError(ServiceError):
    reason = "RATE_LIMIT_EXCEEDED"
    kind = ErrorKind.RESOURCE_EXHAUSTED


class MarketDataLineLimitError(ServiceError):
    reason = "MARKET_DATA_LINE_LIMIT_EXCEEDED"
    kind = ErrorKind.RESOURCE_EXHAUSTED


class SubscriptionLimitError(ServiceError):
    """IB's limit on a kind of subscription (market depth, tick-by-tick) is reached; `limit`
    names it in the QuotaFailure ("market_depth", "tick_by_tick", "market_depth_book")."""

    reason = "SUBSCRIPTION_LIMIT_EXCEEDED"
    kind = ErrorKind.RESOURCE_EXHAUSTED

    def __init__(
        self, message: str, *, limit: str, description: str, metadata: dict[str, str]
    ) -> None:
        super().__init__(
            message,
            metadata=metadata,
            quota_violations=(QuotaViolation(limit, description),),
        )


class ServiceUnavailableError(ServiceError):
    reason = "SERVICE_UNAVAILABLE"
    kind = ErrorKind.UNAVAILABLE


class RiskRejectedError(ServiceError):
    """A pre-trade risk rule refused the order; `reason` is the rule's catalogue reason."""

    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(
        self, reason: str, message: str, *, subject: str, limit: str, requested: str
    ) -> None:
        super().__init__(
            message,
            metadata={"limit": limit, "requested": requested},
            precondition_violations=(PreconditionViolation("RISK", subject, message),),
        )
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ViolationCollector:
    """Gathers field violations so a request reports every bad field at once, not the first."""

    violations: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.violations.append(FieldViolation(field_path, description))

    def raise_if_any(self, error: type[ValidationError] = ValidationError) -> None:
        if self.violations:
            raise error(self.violations)


class AuthenticationError(ServiceError):
    """The bearer token is missing, malformed, expired or not signed by a trusted key."""

    reason = "AUTHENTICATION_FAILED"
    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        # A bounded label for metrics: missing, malformed, expired, signature, audience, ...
        self.cause = cause


class PermissionDeniedError(ServiceError):
    reason = "PERMISSION_DENIED"
    kind = ErrorKind.PERMISSION_DENIED


class TradingHaltedError(ServiceError):
    reason = "TRADING_HALTED"
    kind = ErrorKind.FAILED_PRECONDITION

    def __init__(self, message: str, *, cause: str, halted_by: str, account: str = "") -> None:
        # `account` is the halted account; empty when every account is halted.
        super().__init__(
            message,
            metadata={"cause": cause, "halted_by": halted_by, "account": account},
            precondition_violations=(
                PreconditionViolation("TRADING_STATE", account or "trading", message),
            ),
        )
