"""Monitoring settings as the contracts' retention model (validated together)."""

from __future__ import annotations

from store.settings import Settings
from workflows.contracts.monitoring import DAY, HOUR, MetricsRetention


def metrics_retention(settings: Settings) -> MetricsRetention:
    """ValueError (a pydantic ValidationError) when the settings contradict each other."""
    return MetricsRetention(
        raw_seconds=round(settings.metrics_raw_retention_hours * HOUR),
        rollup_1m_seconds=round(settings.metrics_1m_retention_hours * HOUR),
        rollup_5m_seconds=round(settings.metrics_5m_retention_days * DAY),
        rollup_1h_seconds=round(settings.metrics_1h_retention_days * DAY),
    )
