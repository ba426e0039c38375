"""Counters and histograms for the hot path, where prometheus_client's own cost too much.

prometheus_client takes a lock for every increment and walks the buckets for every
observation; done for every streamed message and every conflation, that was a measurable
share of the server's CPU in the quote fan-out benchmark. These are updated only from the event loop's thread,
so an update is a few integer operations with no lock, and they are read by the registry at
scrape time (from the metrics endpoint's thread) as ordinary counter and histogram families:
the exposition is the same as prometheus_client's, under the same names. A scrape copies
each histogram's buckets in one step (atomic under the GIL), so its count always equals its
+Inf bucket; its sum may be one observation ahead or behind.
"""

from __future__ import annotations

import itertools
import math
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric


class LoopCounterChild:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            message = "a counter only goes up"
            raise ValueError(message)
        self.value += amount


class LoopHistogramChild:
    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # The first bound at or above the value; the last bound is +Inf.
        self.counts[bisect_left(self._bounds, value)] += 1
        self.sum += value


Child = TypeVar("Child", LoopCounterChild, LoopHistogramChild)


class _LoopMetric(Generic[Child]):
    """Children by label values, as prometheus_client's labels() hands them out."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], Child] = {}
        if not self.labelnames:
            self._children[()] = self._new_child()

    def _new_child(self) -> Child:
        raise NotImplementedError

    def labels(self, **labels: str) -> Child:
        if set(labels) != set(self.labelnames):
            message = f"{self.name} takes the labels {self.labelnames}, not {tuple(labels)}"
            raise ValueError(message)
        key = tuple(str(labels[name]) for name in self.labelnames)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    def _unlabelled(self) -> Child:
        child = self._children.get(())
        if child is None:
            message = f"{self.name} has labels {self.labelnames}: use labels()"
            raise ValueError(message)
        return child


class LoopCounter(_LoopMetric[LoopCounterChild]):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames)
        registry.register(self)

    def _new_child(self) -> LoopCounterChild:
        return LoopCounterChild()

    def inc(self, amount: float = 1.0) -> None:
        self._unlabelled().inc(amount)

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self._children.items()):
            family.add_metric(list(key), child.value, created=child.created)
        yield family


class LoopHistogram(_LoopMetric[LoopHistogramChild]):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        bounds = sorted(float(bound) for bound in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self._bounds = tuple(bounds)
        super().__init__(name, documentation, labelnames)
        registry.register(self)

    def _new_child(self) -> LoopHistogramChild:
        return LoopHistogramChild(self._bounds)

    def observe(self, value: float) -> None:
        self._unlabelled().observe(value)

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self._children.items()):
            counts = list(child.counts)
            buckets = [
                (_bucket_label(bound), float(total))
                for bound, total in zip(self._bounds, itertools.accumulate(counts), strict=True)
            ]
            family.add_metric(list(key), buckets, child.sum)
        yield family


def _bucket_label(bound: float) -> str:
    """The `le` label as prometheus_client writes it for these buckets: "0.005", "1.0", "+Inf"."""
    return "+Inf" if bound == math.inf else repr(bound)
