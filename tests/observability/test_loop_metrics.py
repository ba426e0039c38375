"""The lock-free hot-path metrics export exactly what prometheus_client's would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ibkr_grpc.observability.loop_metrics import LoopCounter, LoopHistogram
from ibkr_grpc.observability.metrics import LATENCY_BUCKETS


def exposition(registry: CollectorRegistry) -> list[str]:
    # Creation times differ between the two registries by construction.
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


def test_the_exposition_matches_prometheus_client() -> None:
    reference, ours = CollectorRegistry(), CollectorRegistry()
    expected = Histogram(
        "send_seconds", "Send time.", ["method"], buckets=LATENCY_BUCKETS, registry=reference
    )
    actual = LoopHistogram(
        "send_seconds", "Send time.", ["method"], buckets=LATENCY_BUCKETS, registry=ours
    )
    expected_total = Counter("sent", "Messages sent.", ["method"], registry=reference)
    actual_total = LoopCounter("sent", "Messages sent.", ["method"], registry=ours)
    plain_expected = Counter("conflated", "Conflated.", registry=reference)
    plain_actual = LoopCounter("conflated", "Conflated.", registry=ours)
    for value in (0.0, 0.0005, 0.001, 0.0011, 0.25, 0.3, 10.0, 11.0, 1e9):
        for method in ("StreamQuotes", "StreamPortfolio"):
            expected.labels(method=method).observe(value)
            actual.labels(method=method).observe(value)
            expected_total.labels(method=method).inc()
            actual_total.labels(method=method).inc()
        plain_expected.inc(2)
        plain_actual.inc(2)
    assert exposition(ours) == exposition(reference)
    assert any(
        line.startswith("sent_created{") for line in generate_latest(ours).decode().split("\n")
    )


def test_names_clash_and_labels_are_checked_as_prometheus_client_does() -> None:
    registry = CollectorRegistry()
    LoopCounter("sent_total", "Messages sent.", ["method"], registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("sent", "Again.", registry=registry)
    histogram = LoopHistogram("age_seconds", "Age.", buckets=(1.0,), registry=registry)
    with pytest.raises(ValueError, match="labels"):
        histogram.labels(method="x")
    counter = LoopCounter("other", "Other.", ["method"], registry=registry)
    with pytest.raises(ValueError, match="labels"):
        counter.labels(wrong="x")
    with pytest.raises(ValueError, match="only goes up"):
        counter.labels(method="x").inc(-1)


def test_a_labelled_metric_needs_its_labels() -> None:
    registry = CollectorRegistry()
    counter = LoopCounter("sent", "Messages sent.", ["method"], registry=registry)
    histogram = LoopHistogram("age_seconds", "Age.", ["method"], buckets=(1.0,), registry=registry)
    with pytest.raises(ValueError, match="use labels"):
        counter.inc()
    with pytest.raises(ValueError, match="use labels"):
        histogram.observe(0.5)
