"""The services' Telemetry port, written to the Prometheus metrics."""

from __future__ import annotations

from ibkr_grpc.observability.metrics import Metrics


class PrometheusTelemetry:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def order_sent(self, order_type: str, side: str) -> None:
        self._metrics.orders.labels(order_type=order_type, side=side).inc()

    def order_acknowledged(self, seconds: float) -> None:
        self._metrics.order_latency_seconds.observe(seconds)

    def order_refused(self, reason: str) -> None:
        self._metrics.order_rejections.labels(reason=reason).inc()

    def fill_recorded(self, side: str) -> None:
        self._metrics.fills.labels(side=side).inc()

    def quotes_conflated(self, count: int) -> None:
        self._metrics.quotes_conflated.inc(count)

    def quote_sent(self, age_seconds: float) -> None:
        self._metrics.quote_age_seconds.observe(max(age_seconds, 0.0))

    def trading_halted(self, *, halted: bool) -> None:
        self._metrics.trading_halted.set(int(halted))
