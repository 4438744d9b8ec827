"""The worker's /metrics: the Temporal SDK's own metrics and what workflows record
(runs started and finished by type and outcome; joins, batches, rollouts, commands and
backups by outcome), through the Runtime's metric buffer, beside the process's figures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from temporalio.runtime import MetricBuffer

from adapters.prometheus.listener import serve_metrics
from adapters.prometheus.registry import process_registry
from adapters.prometheus.temporal import TemporalMetricsCollector
from store.settings import Settings
from workflows.contracts.observability import WORKFLOW_COUNTERS

log = logging.getLogger(__name__)

# Drained this often besides every scrape, so an unscraped worker never fills the buffer.
DRAIN_EVERY_SECONDS = 1.0


def worker_registry(buffer: MetricBuffer) -> tuple[CollectorRegistry, TemporalMetricsCollector]:
    registry = process_registry("worker")
    collector = TemporalMetricsCollector(buffer, declared=WORKFLOW_COUNTERS)
    registry.register(collector)
    return registry, collector


@asynccontextmanager
async def serving_worker_metrics(
    buffer: MetricBuffer, *, settings: Settings
) -> AsyncIterator[CollectorRegistry]:
    """The registry, served on EDGEWRIGHT_WORKER_METRICS_PORT and drained while it runs."""
    registry, collector = worker_registry(buffer)
    listener = serve_metrics(
        registry, host=settings.metrics_host, port=settings.worker_metrics_port, process="worker"
    )
    drain = asyncio.create_task(_drain_forever(collector), name="worker-metrics-drain")
    try:
        yield registry
    finally:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        if listener is not None:
            listener.stop()


async def _drain_forever(collector: TemporalMetricsCollector) -> None:
    while True:
        await asyncio.sleep(DRAIN_EVERY_SECONDS)
        try:
            collector.drain()
        except Exception:  # a metrics hiccup must never stop the worker
            log.exception("could not drain the Temporal metric buffer")
