"""The API process's own registry: HTTP traffic by route template, and fleet gauges.

Built per app (never at import time), so two apps in one test process, or the API and
a worker sharing one, keep separate figures. Labels are bounded: route templates (never
raw paths), methods, statuses, device states and at most MAX_DEVICE_TYPES types.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram
from starlette.applications import Starlette

from adapters.prometheus.registry import process_registry
from store.observability import FleetFigures

# How far back the health figures (request rate, error rate, p95) look.
WINDOW_SECONDS = 60.0
# At most this many recent requests are kept for them: at a higher rate the window
# shortens instead of memory growing.
WINDOW_MAX_REQUESTS = 20_000
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class RecentTraffic:
    requests_per_second: float
    error_rate: float  # share of 5xx answers, 0..1
    latency_p95_seconds: float | None
    window_seconds: float
    requests: int


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = process_registry("api")
        self._started_monotonic = time.monotonic()
        self.requests = Counter(
            "edgewright_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "edgewright_http_request_duration_seconds",
            "Time to the response's headers, by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "edgewright_http_requests_in_flight",
            "HTTP requests being answered now",
            registry=self.registry,
        )
        self.devices = Gauge(
            "edgewright_devices",
            "Devices in the inventory, by status and device type",
            ["status", "device_type"],
            registry=self.registry,
        )
        self.devices_online = Gauge(
            "edgewright_devices_online",
            "Devices whose MQTT presence says online",
            registry=self.registry,
        )
        self.alerts_firing = Gauge(
            "edgewright_alerts_firing",
            "Alerts firing now, by severity",
            ["severity"],
            registry=self.registry,
        )
        self._recent: deque[tuple[float, bool, float]] = deque(maxlen=WINDOW_MAX_REQUESTS)

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started_monotonic

    def observe(self, *, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route, method=method).observe(seconds)
        self._recent.append((time.monotonic(), status >= 500, seconds))

    def set_fleet(self, fleet: FleetFigures) -> None:
        # Cleared first: a state or type that no device has any more must not linger.
        self.devices.clear()
        for count in fleet.by_state:
            self.devices.labels(status=count.status, device_type=count.device_type).set(
                count.devices
            )
        self.devices_online.set(fleet.online)
        self.alerts_firing.clear()
        for severity, firing in fleet.alerts_firing.items():
            self.alerts_firing.labels(severity=severity).set(firing)

    def recent(self) -> RecentTraffic:
        """Rate, error share and p95 latency of the requests in the last WINDOW_SECONDS."""
        now = time.monotonic()
        while self._recent and self._recent[0][0] < now - WINDOW_SECONDS:
            self._recent.popleft()
        window = min(WINDOW_SECONDS, max(now - self._started_monotonic, 1e-3))
        if self._recent and len(self._recent) == self._recent.maxlen:
            window = min(window, max(now - self._recent[0][0], 1e-3))
        samples = list(self._recent)
        errors = sum(1 for _, failed, _ in samples if failed)
        durations = sorted(seconds for _, _, seconds in samples)
        p95 = durations[min(len(durations) - 1, int(0.95 * len(durations)))] if durations else None
        return RecentTraffic(
            requests_per_second=len(samples) / window,
            error_rate=errors / len(samples) if samples else 0.0,
            latency_p95_seconds=p95,
            window_seconds=window,
            requests=len(samples),
        )


def set_app_metrics(app: Starlette, metrics: ApiMetrics) -> None:
    app.state.edgewright_metrics = metrics


def app_metrics(app: Starlette) -> ApiMetrics:
    metrics = getattr(app.state, "edgewright_metrics", None)
    if not isinstance(metrics, ApiMetrics):
        raise RuntimeError("the app was built without api.main.create_app")
    return metrics
