"""Every metric the server exports, in one registry owned by the application.

Names are full words with bounded label sets. The grpc_server_* family uses
py-grpc-prometheus's definitions, which are go-grpc-prometheus's names, help and labels; the
label values are go-grpc-prometheus's too (call_metrics), so stock gRPC dashboards and alerts
work. The original specification's api_requests_total and api_request_duration_seconds are
not exported: Prometheus records them from the grpc_server_* family
(monitoring/prometheus/recording_rules.yml). The original specification's business metrics
keep their names: orders_total, order_latency_seconds, active_positions_total,
pnl_unrealized_total and ib_connection_status.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from py_grpc_prometheus.server_metrics import get_grpc_server_handled_counter, init_metrics

from ibkr.v1 import errors_pb2
from ibkr_grpc.observability.loop_metrics import LoopCounter, LoopHistogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        # process_resident_memory_bytes and friends, for the memory alert and dashboards.
        ProcessCollector(registry=r)
        grpc = init_metrics(r)
        self.grpc_started = grpc["grpc_server_started_counter"]
        self.grpc_received = grpc["grpc_server_stream_msg_received"]
        # Counted for every streamed message: exported under py-grpc-prometheus's name, kept
        # by a lock-free counter (loop_metrics).
        r.unregister(grpc["grpc_server_stream_msg_sent"])
        self.grpc_sent = LoopCounter(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            ["grpc_type", "grpc_service", "grpc_method"],
            registry=r,
        )
        self.grpc_handling_seconds = grpc["grpc_server_handled_histogram"]
        # py-grpc-prometheus always defines this legacy histogram; unregistered, not exported.
        r.unregister(grpc["legacy_grpc_server_handled_latency_seconds"])
        self.grpc_handled = get_grpc_server_handled_counter(is_legacy=False, registry=r)
        self.active_streams = Gauge(
            "grpc_server_active_streams", "Server streams open now.", ["grpc_method"], registry=r
        )
        self.stream_send_seconds = LoopHistogram(
            "grpc_server_stream_send_seconds",
            "Time to hand one stream message to gRPC (back-pressure from slow readers).",
            ["grpc_method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        # Orders (the first two keep the original specification's names).
        self.orders = Counter(
            "orders", "Orders placed (sent to IB).", ["order_type", "side"], registry=r
        )
        self.order_latency_seconds = Histogram(
            "order_latency_seconds",
            "PlaceOrder, from request to IB's acknowledgement (or the bounded wait's end).",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.order_rejections = Counter(
            "order_rejections", "Orders refused, by catalogue reason.", ["reason"], registry=r
        )
        # Every reason starts at 0, so that rate() and increase() see the first refusal too.
        for name in errors_pb2.ErrorReason.keys():  # noqa: SIM118  an enum wrapper, not a dict
            if name != "ERROR_REASON_UNSPECIFIED":
                self.order_rejections.labels(reason=name.removeprefix("ERROR_REASON_"))
        self.fills = Counter("fills", "Executions recorded.", ["side"], registry=r)

        # Portfolio.
        self.active_positions = Gauge(
            "active_positions_total", "Open positions across accounts.", registry=r
        )
        self.pnl_unrealized = Gauge(
            "pnl_unrealized_total", "Unrealized PnL per account.", ["account"], registry=r
        )
        self.pnl_realized = Gauge(
            "pnl_realized_total", "Realized PnL today per account.", ["account"], registry=r
        )
        self.pnl_daily = Gauge("pnl_daily_total", "Daily PnL per account.", ["account"], registry=r)

        # The IB Gateway session.
        self.ib_connection_status = Gauge(
            "ib_connection_status",
            "1 when the IB Gateway session is READY, 0 otherwise.",
            registry=r,
        )
        self.ib_connection_state = Gauge(
            "ib_connection_state",
            "1 for the session's current state, 0 for the others.",
            ["state"],
            registry=r,
        )
        self.ib_reconnects = Counter(
            "ib_reconnects", "Connections to IB Gateway opened after a loss.", registry=r
        )
        # A gateway waiting at its login dialog or a 2FA prompt fails every handshake.
        self.ib_connect_attempts = Counter(
            "ib_connect_attempts",
            "Connection attempts to IB Gateway, by whether the API handshake completed.",
            ["result"],
            registry=r,
        )
        for result in ("connected", "failed"):
            self.ib_connect_attempts.labels(result=result)
        self.ib_reconciliation_seconds = Histogram(
            "ib_reconciliation_seconds",
            "Time from connect to READY: reconciliation and resubscription.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.ib_requests = Counter(
            "ib_requests", "Requests sent to IB, by kind.", ["kind"], registry=r
        )
        self.ib_requests_throttled = Counter(
            "ib_requests_throttled",
            "Requests that waited for the shared IB request limiter.",
            registry=r,
        )
        self.ib_errors = Counter(
            "ib_errors", "Errors and notices from IB, by code group.", ["group"], registry=r
        )

        # Market data.
        self.market_data_lines_in_use = Gauge(
            "market_data_lines_in_use", "IB market-data lines held.", registry=r
        )
        self.market_data_line_limit = Gauge(
            "market_data_line_limit", "IB market-data lines the server may hold.", registry=r
        )
        self.quotes_conflated = LoopCounter(
            "quotes_conflated",
            "Quotes replaced by a newer one before a slow stream read them.",
            registry=r,
        )
        self.quote_age_seconds = LoopHistogram(
            "quote_age_seconds",
            "Age of a quote (since the server received it) when a stream sends it.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        # Dependencies and safety.
        self.database_up = Gauge("database_up", "1 when the database answers.", registry=r)
        self.redis_up = Gauge(
            "redis_up", "1 when Redis answers (1 when no Redis is configured).", registry=r
        )
        self.redis_subscriptions_lost = Counter(
            "redis_subscriptions_lost",
            "Redis subscriptions whose connection was lost (each is then resubscribed).",
            registry=r,
        )
        self.redis_subscriptions_restored = Counter(
            "redis_subscriptions_restored",
            "Redis subscriptions re-established after a lost connection.",
            registry=r,
        )
        self.redis_subscriptions_waiting = Gauge(
            "redis_subscriptions_waiting",
            "Redis subscriptions lost and not yet re-established (messages meanwhile are lost).",
            registry=r,
        )
        self.redis_outage_seconds = Histogram(
            "redis_outage_seconds",
            "How long a Redis subscription was lost before it was re-established.",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.redis_command_failures = Counter(
            "redis_command_failures",
            "Redis publish, get and set commands that failed (connection lost or timed out).",
            ["operation"],
            registry=r,
        )
        for operation in ("publish", "get", "set"):
            self.redis_command_failures.labels(operation=operation)
        self.authentication_failures = Counter(
            "authentication_failures",
            "Calls refused for their credentials.",
            ["reason"],
            registry=r,
        )
        self.trading_halted = Gauge(
            "trading_halted",
            "1 while any halt is on (every account, or one), 0 otherwise.",
            registry=r,
        )
