"""A registry per process: each process exposes its own figures, never a global one."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector

PROCESS_START = "edgewright_process_start_time_seconds"


def process_registry(process: str) -> CollectorRegistry:
    """A fresh registry with the process's start time, CPU and memory (`process_*`)."""
    registry = CollectorRegistry()
    started = Gauge(
        PROCESS_START,
        "When this process started, seconds since the epoch",
        ["process"],
        registry=registry,
    )
    started.labels(process=process).set(time.time())
    ProcessCollector(registry=registry)
    return registry
