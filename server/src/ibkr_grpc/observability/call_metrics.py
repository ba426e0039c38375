"""The interceptor's CallRecorder over the grpc_server_* metrics (py-grpc-prometheus names)."""

from __future__ import annotations

from ibkr_grpc.observability.loop_metrics import LoopCounterChild, LoopHistogramChild
from ibkr_grpc.observability.metrics import Metrics
from ibkr_grpc.services.ports import Telemetry

# Refusals of these methods count as order rejections, by reason.
ORDER_METHODS = frozenset({"PlaceOrder"})


class PrometheusCallRecorder:
    def __init__(self, metrics: Metrics, telemetry: Telemetry) -> None:
        self._metrics = metrics
        self._telemetry = telemetry
        self._sent_children: dict[
            tuple[str, str, str], tuple[LoopCounterChild, LoopHistogramChild]
        ] = {}

    def started(self, kind: str, service: str, method: str) -> None:
        labels = {"grpc_type": kind, "grpc_service": service, "grpc_method": method}
        self._metrics.grpc_started.labels(**labels).inc()
        self._metrics.grpc_received.labels(**labels).inc()

    def handled(self, kind: str, service: str, method: str, code: str, seconds: float) -> None:
        labels = {"grpc_type": kind, "grpc_service": service, "grpc_method": method}
        self._metrics.grpc_handled.labels(**labels, grpc_code=code).inc()
        self._metrics.grpc_handling_seconds.labels(**labels).observe(seconds)

    def message_sent(self, kind: str, service: str, method: str, seconds: float) -> None:
        # Called for every stream message: the labelled children are looked up once.
        key = (kind, service, method)
        children = self._sent_children.get(key)
        if children is None:
            labels = {"grpc_type": kind, "grpc_service": service, "grpc_method": method}
            children = (
                self._metrics.grpc_sent.labels(**labels),
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
