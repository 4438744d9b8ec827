"""What one sample measures, read from a heartbeat or from the Edge API's metrics body.

Both ingest paths end here, so a heartbeat's `"cpu": "45%"` and a POST's
`"cpu_usage": 45.5` are the same column. Heartbeats speak the CloudCore document's style
("45%", "2.3GB", "2.3GB/8GB", "65°C"); the Edge API's body gives plain numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from store.models import METRICS

# A number with an optional unit: "45", "45.5%", "2.3GB", "65°C", "65 C".
_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(%|[kKmMgGtT]i?[bB]|[bB]|°?[cC])?\s*")
# Memory and disk are GB in the Edge API's body; other units are converted to it.
_TO_GB = {"b": 1e-9, "kb": 1e-6, "mb": 1e-3, "gb": 1.0, "tb": 1e3}
_TO_GB.update({"kib": 1024 / 1e9, "mib": 1024**2 / 1e9, "gib": 1024**3 / 1e9, "tib": 1024**4 / 1e9})
# Keys a heartbeat may use for each metric, the contract's first.
_ALIASES = {
    "cpu_usage": ("cpu_usage", "cpu"),
    "memory_usage": ("memory_usage", "memory"),
    "memory_total": ("memory_total",),
    "disk_usage": ("disk_usage", "disk"),
    "disk_total": ("disk_total",),
    "temperature": ("temperature",),
}
_GB_METRICS = {"memory_usage", "memory_total", "disk_usage", "disk_total"}
# Bound what a sample may say; past these a value is a device's bug, not a reading.
LIMIT = 1e15


@dataclass(frozen=True, kw_only=True)
class MetricValues:
    """One sample's readings; a metric the source did not give is absent."""

    values: dict[str, float] = field(default_factory=dict)
    containers: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.values) - set(METRICS)
        if unknown:
            raise ValueError(f"unknown metrics: {sorted(unknown)}")

    @property
    def empty(self) -> bool:
        return not self.values and not self.containers


def number(value: Any, *, metric: str = "") -> float | None:
    """45, 45.0, "45%", "2.3GB", "65°C" read as numbers (memory and disk in GB)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
        return result if math.isfinite(result) and abs(result) <= LIMIT else None
    if isinstance(value, str) and len(value) <= 64:
        return _text(value, metric in _GB_METRICS)
    return None


# A fleet repeats the same few hundred readings ("42%", "1.9GB"): parsed once each.
@lru_cache(maxsize=8192)
def _text(value: str, in_gb: bool) -> float | None:
    match = _NUMBER.fullmatch(value)
    if match is None:
        return None
    result = float(match.group(1))
    unit = (match.group(2) or "").lower()
    if unit in _TO_GB and in_gb:
        result *= _TO_GB[unit]
    return result if math.isfinite(result) and abs(result) <= LIMIT else None


def from_heartbeat(usage: Mapping[str, Any]) -> MetricValues:
    """A heartbeat's readings; fields that are missing or unreadable are left out.

    `"memory": "2.3GB/8GB"` gives both memory_usage and memory_total.
    """
    values: dict[str, float] = {}
    for metric, keys in _ALIASES.items():
        raw = next((usage[key] for key in keys if key in usage), None)
        if isinstance(raw, str) and "/" in raw and metric in ("memory_usage", "disk_usage"):
            used, _, total = raw.partition("/")
            total_value = number(total, metric=metric)
            if total_value is not None:
                values.setdefault(metric.replace("_usage", "_total"), total_value)
            raw = used
        parsed = number(raw, metric=metric)
        if parsed is not None:
            values[metric] = parsed
    network = usage.get("network")
    if isinstance(network, Mapping):
        for key in ("rx_bytes", "tx_bytes"):
            parsed = number(network.get(key))
            if parsed is not None:
                values[key] = parsed
    return MetricValues(values=values)
