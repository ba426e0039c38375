"""The interceptor's CallRecorder over the grpc_server_* metrics, with the label values
go-grpc-prometheus writes, so that stock gRPC dashboards, alerts and recording rules match.

The interceptor names a call's kind and outcome as grpc-python does (`UNARY`,
`StatusCode.NOT_FOUND.name`); the labels are go-grpc-prometheus's: `grpc_type` in lower case
(`unary`, `server_stream`) and `grpc_code` as Go's `codes.Code.String()` (`NotFound`,
`Canceled`). py-grpc-prometheus defines the same metrics but writes grpc-python's names.
"""

from __future__ import annotations

from ibkr_grpc.observability.loop_metrics import LoopCounterChild, LoopHistogramChild
from ibkr_grpc.observability.metrics import Metrics
from ibkr_grpc.services.ports import Telemetry

# Refusals of these methods count as order rejections, by reason.
ORDER_METHODS = frozenset({"PlaceOrder"})

# go-grpc-prometheus's grpcType constants, by grpc-python's method kinds.
GRPC_TYPES = {
    "UNARY": "unary",
    "CLIENT_STREAMING": "client_stream",
    "SERVER_STREAMING": "server_stream",
    "BIDI_STREAMING": "bidi_stream",
}

# grpc-go's codes.Code.String(), by grpc.StatusCode name. Go spells CANCELLED "Canceled".
GRPC_CODES = {
    "OK": "OK",
    "CANCELLED": "Canceled",
    "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition",
    "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal",
    "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss",
    "UNAUTHENTICATED": "Unauthenticated",
}


def grpc_type_label(kind: str) -> str:
    return GRPC_TYPES.get(kind, kind.lower())


def grpc_code_label(code: str) -> str:
    return GRPC_CODES.get(code, "Unknown")


def call_labels(kind: str, service: str, method: str) -> dict[str, str]:
    return {"grpc_type": grpc_type_label(kind), "grpc_service": service, "grpc_method": method}


class PrometheusCallRecorder:
    def __init__(self, metrics: Metrics, telemetry: Telemetry) -> None:
        self._metrics = metrics
        self._telemetry = telemetry
        self._started_methods: set[tuple[str, str, str]] = set()
        self._sent_children: dict[
            tuple[str, str, str], tuple[LoopCounterChild, LoopHistogramChild]
        ] = {}

    def started(self, kind: str, service: str, method: str) -> None:
        labels = call_labels(kind, service, method)
        key = (kind, service, method)
        if key not in self._started_methods:
            # As go-grpc-prometheus's InitializeMetrics does: every code of a method starts at 0,
            # so that rate() and increase() see its first error too.
            self._started_methods.add(key)
            for code in GRPC_CODES.values():
                self._metrics.grpc_handled.labels(**labels, grpc_code=code)
        self._metrics.grpc_started.labels(**labels).inc()
        self._metrics.grpc_received.labels(**labels).inc()

    def handled(self, kind: str, service: str, method: str, code: str, seconds: float) -> None:
        labels = call_labels(kind, service, method)
        self._metrics.grpc_handled.labels(**labels, grpc_code=grpc_code_label(code)).inc()
        self._metrics.grpc_handling_seconds.labels(**labels).observe(seconds)

    def message_sent(self, kind: str, service: str, method: str, seconds: float) -> None:
        # Called for every stream message: the labelled children are looked up once.
        key = (kind, service, method)
        children = self._sent_children.get(key)
        if children is None:
            children = (
                self._metrics.grpc_sent.labels(**call_labels(kind, service, method)),
                self._metrics.stream_send_seconds.labels(grpc_method=method),
            )
            self._sent_children[key] = children
        children[0].inc()
        if kind == "SERVER_STREAMING":
            children[1].observe(seconds)

    def stream_opened(self, method: str) -> None:
        self._metrics.active_streams.labels(grpc_method=method).inc()

    def stream_closed(self, method: str) -> None:
        self._metrics.active_streams.labels(grpc_method=method).dec()

    def refused(self, method: str, reason: str) -> None:
        if method in ORDER_METHODS:
            self._telemetry.order_refused(reason)
