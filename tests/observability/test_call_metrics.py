"""The grpc_server_* family as go-grpc-prometheus exports it: the same metric names, label
names and label values, so that stock gRPC dashboards and alerts work on our metrics.

What go-grpc-prometheus writes, from its source (grpc-ecosystem/go-grpc-prometheus):
- server_metrics.go: grpc_server_started_total, grpc_server_handled_total (with grpc_code),
  grpc_server_msg_received_total, grpc_server_msg_sent_total and the histogram
  grpc_server_handling_seconds, labelled grpc_type, grpc_service, grpc_method; and
  preRegisterMethod, which creates a method's handled counter for every code at 0.
- util.go: grpc_type is "unary", "client_stream", "server_stream" or "bidi_stream", and the
  service and method come from splitting "/package.Service/Method".
- grpc_code is codes.Code.String() (grpc/grpc-go codes/code_string.go): "OK", "Canceled",
  "InvalidArgument", ...
py-grpc-prometheus (lchenn/py-grpc-prometheus server_metrics.py) defines the same names and
labels, but its values are grpc-python's ("UNARY", grpc.StatusCode.NOT_FOUND.name, see its
grpc_utils.py and prometheus_aio_server_interceptor.py): dashboards written for Go servers
would match nothing, so the recorder writes Go's values.
"""

from __future__ import annotations

import grpc
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ibkr_grpc.observability.call_metrics import GRPC_CODES, GRPC_TYPES, PrometheusCallRecorder
from ibkr_grpc.observability.metrics import Metrics
from ibkr_grpc.observability.telemetry import PrometheusTelemetry

# grpc/grpc-go codes/code_string.go, in the order of the codes' numbers.
GO_CODE_NAMES = (
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
)
SERVICE = "ibkr.v1.OrderService"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics: Metrics) -> Samples:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def recorder() -> tuple[PrometheusCallRecorder, Metrics]:
    metrics = Metrics()
    return PrometheusCallRecorder(metrics, PrometheusTelemetry(metrics)), metrics


def test_every_grpc_status_code_has_go_s_name() -> None:
    by_number = sorted(grpc.StatusCode, key=lambda code: code.value[0])
    assert [GRPC_CODES[code.name] for code in by_number] == list(GO_CODE_NAMES)


def test_method_kinds_are_go_s_grpc_types() -> None:
    assert GRPC_TYPES == {
        "UNARY": "unary",
        "CLIENT_STREAMING": "client_stream",
        "SERVER_STREAMING": "server_stream",
        "BIDI_STREAMING": "bidi_stream",
    }


def test_a_unary_call_is_labelled_as_go_grpc_prometheus_labels_it() -> None:
    calls, metrics = recorder()
    calls.started("UNARY", SERVICE, "GetOrder")
    calls.handled("UNARY", SERVICE, "GetOrder", "NOT_FOUND", 0.004)
    found = samples(metrics)
    labels = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "GetOrder"}
    assert value(found, "grpc_server_started_total", **labels) == 1
    assert value(found, "grpc_server_msg_received_total", **labels) == 1
    assert value(found, "grpc_server_handled_total", **labels, grpc_code="NotFound") == 1
    assert value(found, "grpc_server_handling_seconds_count", **labels) == 1
    assert value(found, "grpc_server_handling_seconds_bucket", **labels, le="0.005") == 1
    # No grpc-python spelling anywhere.
    assert value(found, "grpc_server_handled_total", **labels, grpc_code="NOT_FOUND") is None


def test_a_method_s_first_call_creates_every_code_at_zero() -> None:
    calls, metrics = recorder()
    calls.started("UNARY", SERVICE, "CancelOrder")
    found = samples(metrics)
    labels = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "CancelOrder"}
    codes = {
        dict(key)["grpc_code"]: count
        for (name, key), count in found.items()
        if name == "grpc_server_handled_total" and dict(key)["grpc_method"] == "CancelOrder"
    }
    assert codes == dict.fromkeys(GO_CODE_NAMES, 0.0)
    calls.handled("UNARY", SERVICE, "CancelOrder", "OK", 0.001)
    assert value(samples(metrics), "grpc_server_handled_total", **labels, grpc_code="OK") == 1


def test_a_cancelled_stream_is_a_server_stream_ended_canceled() -> None:
    calls, metrics = recorder()
    calls.started("SERVER_STREAMING", SERVICE, "StreamOrderEvents")
    calls.stream_opened("StreamOrderEvents")
    for _ in range(3):
        calls.message_sent("SERVER_STREAMING", SERVICE, "StreamOrderEvents", 0.0001)
    calls.stream_closed("StreamOrderEvents")
    calls.handled("SERVER_STREAMING", SERVICE, "StreamOrderEvents", "CANCELLED", 12.5)
    found = samples(metrics)
    labels = {
        "grpc_type": "server_stream",
        "grpc_service": SERVICE,
        "grpc_method": "StreamOrderEvents",
    }
    assert value(found, "grpc_server_msg_sent_total", **labels) == 3
    assert value(found, "grpc_server_handled_total", **labels, grpc_code="Canceled") == 1
    assert value(found, "grpc_server_handling_seconds_count", **labels) == 1
    assert value(found, "grpc_server_active_streams", grpc_method="StreamOrderEvents") == 0


def test_the_family_has_go_grpc_prometheus_s_names_and_label_names() -> None:
    calls, metrics = recorder()
    calls.started("SERVER_STREAMING", SERVICE, "StreamOrderEvents")
    calls.message_sent("SERVER_STREAMING", SERVICE, "StreamOrderEvents", 0.0001)
    calls.handled("SERVER_STREAMING", SERVICE, "StreamOrderEvents", "OK", 1.0)
    text = generate_latest(metrics.registry).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    base = {"grpc_type", "grpc_service", "grpc_method"}
    expected = {
        "grpc_server_started": ("counter", base),
        "grpc_server_handled": ("counter", base | {"grpc_code"}),
        "grpc_server_msg_received": ("counter", base),
        "grpc_server_msg_sent": ("counter", base),
        "grpc_server_handling_seconds": ("histogram", base),
    }
    for name, (kind, label_names) in expected.items():
        family = families[name]
        assert family.type == kind, name
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            assert set(sample.labels) - {"le"} == label_names, sample.name
