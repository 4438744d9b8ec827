"""The Temporal SDK's metrics (and what workflows record) in a prometheus_client registry.

The worker's Runtime records into a MetricBuffer instead of serving its own endpoint, so
one /metrics per process holds everything. The buffer must be drained regularly (the SDK
drops updates when it is full): `drain` runs on every scrape and from the worker's loop.
Counters arrive as deltas, gauges as values, histograms as single observations, which
are bucketed here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

from workflows.contracts.observability import CounterSpec

# Large enough for a busy second between drains (the SDK's advice: set it high).
BUFFER_SIZE = 100_000
# Durations arrive in seconds (MetricBufferDurationFormat.SECONDS); other histograms
# (sizes, counts) fall in the same buckets, which span both.
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0)

LabelSet = tuple[tuple[str, str], ...]


def buffered_runtime() -> tuple[Runtime, MetricBuffer]:
    """A Runtime whose metrics land in a buffer this module can expose."""
    buffer = MetricBuffer(BUFFER_SIZE, duration_format=MetricBufferDurationFormat.SECONDS)
    return Runtime(telemetry=TelemetryConfig(metrics=buffer)), buffer


@dataclass
class _Histogram:
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    count: float = 0.0
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for index, bound in enumerate(BUCKETS):
            if value <= bound:
                self.buckets[index] += 1


@dataclass
class _Family:
    kind: str  # counter, gauge, histogram
    description: str
    values: dict[LabelSet, float] = field(default_factory=dict)
    histograms: dict[LabelSet, _Histogram] = field(default_factory=dict)


class TemporalMetricsCollector(Collector):
    def __init__(self, buffer: MetricBuffer, *, declared: Sequence[CounterSpec] = ()) -> None:
        self._buffer = buffer
        self._lock = threading.Lock()
        self._families: dict[str, _Family] = {
            spec.name: _Family(kind="counter", description=spec.description) for spec in declared
        }

    def drain(self) -> None:
        with self._lock:
            for update in self._buffer.retrieve_updates():
                metric = update.metric
                family = self._families.get(metric.name)
                if family is None:
                    family = self._families[metric.name] = _Family(
                        kind=_kind(metric.kind), description=metric.description or metric.name
                    )
                labels = _labels(update.attributes)
                if family.kind == "counter":
                    family.values[labels] = family.values.get(labels, 0.0) + update.value
                elif family.kind == "gauge":
                    family.values[labels] = float(update.value)
                else:
                    family.histograms.setdefault(labels, _Histogram()).observe(update.value)

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            for name, family in sorted(self._families.items()):
                yield _exposed(name, family)


def _exposed(name: str, family: _Family) -> Metric:
    names = sorted({key for labels in (*family.values, *family.histograms) for key, _ in labels})
    if family.kind == "histogram":
        histogram = HistogramMetricFamily(name, family.description, labels=names)
        for labels, seen in family.histograms.items():
            buckets = [
                (str(bound), count) for bound, count in zip(BUCKETS, seen.buckets, strict=True)
            ]
            histogram.add_metric(
                _values(labels, names), [*buckets, ("+Inf", seen.count)], seen.total
            )
        return histogram
    exposed: CounterMetricFamily | GaugeMetricFamily
    if family.kind == "counter":
        exposed = CounterMetricFamily(name, family.description, labels=names)
    else:
        exposed = GaugeMetricFamily(name, family.description, labels=names)
    for labels, value in family.values.items():
        exposed.add_metric(_values(labels, names), value)
    return exposed


def _kind(kind: object) -> str:
    if kind == BUFFERED_METRIC_KIND_COUNTER:
        return "counter"
    if kind == BUFFERED_METRIC_KIND_GAUGE:
        return "gauge"
    return "histogram"


def _labels(attributes: Mapping[str, str | int | float | bool]) -> LabelSet:
    return tuple(sorted((key, str(value)) for key, value in attributes.items()))


def _values(labels: Iterable[tuple[str, str]], names: list[str]) -> list[str]:
    given = dict(labels)
    return [given.get(name, "") for name in names]
