"""The bridge's /metrics: messages by kind, store flushes and how far writes lag.

Counts already kept by the bridge's parts (Ingest.counts, the batcher, the bus, the
signals) are read at scrape time by a collector, so the message path gains no work;
flush durations and lags are observed into histograms as each flush ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.prometheus.registry import process_registry
from workflows.contracts.live import DeviceTopic

# The kinds Ingest.counts holds: device topics, and what was refused.
MESSAGE_KINDS = (
    DeviceTopic.STATUS.value,
    DeviceTopic.RESULT.value,
    DeviceTopic.DETECTION.value,
    "left",
    "malformed",
    "too_large",
)
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = process_registry("bridge")
        self.flush_seconds = Histogram(
            "edgewright_bridge_flush_duration_seconds",
            "Time to write one batch of presence to the store",
            buckets=FLUSH_BUCKETS,
            registry=self.registry,
        )
        self.store_lag = Histogram(
            "edgewright_bridge_store_lag_seconds",
            "Age of a batch's oldest heartbeat when it reached the store",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )

    def flushed(self, seconds: float, lag: float) -> None:
        self.flush_seconds.observe(seconds)
        self.store_lag.observe(lag)

    def watch(self, read: Callable[[], BridgeReading]) -> None:
        """Expose what `read` says at every scrape (the running bridge's counters)."""
        self.registry.register(_BridgeCollector(read))


@dataclass(frozen=True, kw_only=True)
class BridgeReading:
    messages: dict[str, int]
    events_published: int
    late_results: int
    undeliverable_results: int
    refused_results: int
    rows_written: int
    flushes: int
    pending: int
    lag_seconds: float
    mqtt_connected: bool


class _BridgeCollector(Collector):
    def __init__(self, read: Callable[[], BridgeReading]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        now = self._read()
        messages = CounterMetricFamily(
            "edgewright_bridge_messages", "Device messages received, by kind", labels=["kind"]
        )
        for kind in MESSAGE_KINDS:
            messages.add_metric([kind], now.messages.get(kind, 0))
        yield messages
        yield _counter(
            "edgewright_bridge_events_published", "Events put on the bus", now.events_published
        )
        yield _counter(
            "edgewright_bridge_late_results", "Results for runs already over", now.late_results
        )
        yield _counter(
            "edgewright_bridge_undeliverable_results",
            "Results Temporal refused for good, passed on as failures",
            now.undeliverable_results,
        )
        yield _counter(
            "edgewright_bridge_refused_results",
            "Results refused: not from the device the command went to",
            now.refused_results,
        )
        yield _counter(
            "edgewright_bridge_presence_rows_written", "Presence rows written", now.rows_written
        )
        yield _counter("edgewright_bridge_flushes", "Presence batches written", now.flushes)
        yield GaugeMetricFamily(
            "edgewright_bridge_pending_writes",
            "Presence updates waiting to be written",
            now.pending,
        )
        yield GaugeMetricFamily(
            "edgewright_bridge_lag_seconds",
            "Age of the oldest heartbeat not yet written to the store",
            now.lag_seconds,
        )
        yield GaugeMetricFamily(
            "edgewright_bridge_mqtt_connected",
            "1 while the bridge is connected to the broker",
            1.0 if now.mqtt_connected else 0.0,
        )


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
