"""Alerts raised from heartbeats: high CPU and high temperature, once per episode."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CPU_PERCENT_LIMIT = 90.0
TEMPERATURE_LIMIT = 80.0


@dataclass(frozen=True, kw_only=True)
class Alert:
    kind: str
    message: str


def _number(value: Any) -> float | None:
    """45, 45.0 and "45%" all read as 45.0; anything else as unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%").strip())
        except ValueError:
            return None
    return None


class AlertWatch:
    """Remembers which devices are in an alert state, so an alert fires on entry only."""

    def __init__(self) -> None:
        self._active: set[tuple[str, str]] = set()

    def check(self, device_id: str, usage: Mapping[str, Any]) -> list[Alert]:
        raised: list[Alert] = []
        cpu = _number(usage.get("cpu"))
        temperature = _number(usage.get("temperature"))
        checks = (
            ("high_cpu", cpu, CPU_PERCENT_LIMIT, f"CPU usage {cpu}% > {CPU_PERCENT_LIMIT:g}%"),
            (
                "high_temperature",
                temperature,
                TEMPERATURE_LIMIT,
                f"temperature {temperature} > {TEMPERATURE_LIMIT:g}",
            ),
        )
        for kind, value, limit, message in checks:
            key = (device_id, kind)
            if value is not None and value > limit:
                if key not in self._active:
                    self._active.add(key)
                    raised.append(Alert(kind=kind, message=message))
            else:
                self._active.discard(key)
        return raised

    def forget(self, device_id: str) -> None:
        self._active = {key for key in self._active if key[0] != device_id}
