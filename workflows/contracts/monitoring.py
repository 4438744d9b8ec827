"""Fleet monitoring: metric rollups and retention, the compaction that keeps them, and
the alert evaluation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator
from temporalio import activity

from workflows.contracts.common import ContractModel

METRICS_COMPACTION_WORKFLOW = "MetricsCompactionWorkflow"


def metrics_compaction_workflow_id(schedule_id: str) -> str:
    """Runs of the schedule `schedule_id`; Temporal appends the scheduled time to this."""
    return f"metrics-compaction/{schedule_id}"


# Rollup widths in seconds, by the `resolution` name both APIs use.
RESOLUTIONS: dict[str, int] = {"1m": 60, "5m": 300, "1h": 3600}


# Query windows in seconds, by the `timeframe` name both APIs use.
TIMEFRAMES: dict[str, int] = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}


HOUR = 3600


DAY = 86_400


ALERT_EVALUATION_WORKFLOW = "AlertEvaluationWorkflow"


# One evaluation loop per Temporal namespace, started by every worker ("use existing").
ALERT_EVALUATION_WORKFLOW_ID = "alert-evaluation"


class MonitoringActivity(StrEnum):
    COMPACT_METRICS = "compact_metrics"
    EVALUATE_ALERTS = "evaluate_alerts"


class MetricsRetention(ContractModel):
    """How long each kind of data is kept, in seconds.

    1h rollups are summed from 1m rollups, so those must outlive the raw samples by an
    hour (checked).
    """

    raw_seconds: int = Field(default=6 * HOUR, ge=HOUR, le=30 * DAY)
    rollup_1m_seconds: int = Field(default=DAY, ge=2 * HOUR, le=90 * DAY)
    rollup_5m_seconds: int = Field(default=7 * DAY, ge=HOUR, le=365 * DAY)
    rollup_1h_seconds: int = Field(default=90 * DAY, ge=HOUR, le=5 * 365 * DAY)

    @model_validator(mode="after")
    def _rollups_outlive_their_sources(self) -> MetricsRetention:
        # A late sample may recompute every bucket raw samples still hold, and the hour
        # it starts in is summed from 1m rollups: those must reach an hour further back.
        if self.raw_seconds + HOUR > self.rollup_1m_seconds:
            raise ValueError("1m rollups must be kept at least an hour longer than samples")
        return self

    def of(self, width: int) -> int:
        """How long rollups of `width` seconds are kept."""
        return {60: self.rollup_1m_seconds, 300: self.rollup_5m_seconds}.get(
            width, self.rollup_1h_seconds
        )

    def allows(self, *, timeframe: str, resolution: str) -> bool:
        """Whether the rollups of `resolution` still hold the whole of `timeframe`."""
        return TIMEFRAMES[timeframe] <= self.of(RESOLUTIONS[resolution])

    def allowed(self) -> dict[str, list[str]]:
        """resolution -> the timeframes it can answer."""
        return {
            resolution: [
                tf for tf in TIMEFRAMES if self.allows(timeframe=tf, resolution=resolution)
            ]
            for resolution in RESOLUTIONS
        }


class CompactionInput(ContractModel):
    retention: MetricsRetention = MetricsRetention()
    # Samples younger than this are left for the next run: a write still in flight when
    # the run starts then lands in a bucket that is recomputed anyway.
    settle_seconds: int = Field(default=60, ge=0, le=3600)

    @model_validator(mode="after")
    def _settle_within_raw(self) -> CompactionInput:
        if self.settle_seconds * 2 >= self.retention.raw_seconds:
            raise ValueError("settle_seconds must be well below the raw retention")
        return self


class CompactionResult(ContractModel):
    compacted_from: int = Field(description="Epoch seconds: first sample recomputed")
    compacted_until: int = Field(description="Epoch seconds: rollups complete before this")
    rollups_written: dict[str, int] = Field(description="Rows written per resolution")
    samples_pruned: int
    rollups_pruned: dict[str, int]


class AlertEvaluationInput(ContractModel):
    interval_seconds: float = Field(default=15.0, ge=1, le=3600)
    rounds_per_run: int = Field(default=200, ge=1, le=10_000)
    # A device's latest sample counts while it is at most this old.
    fresh_seconds: int = Field(default=120, ge=10, le=3600)


class EvaluateAlertsInput(ContractModel):
    fresh_seconds: int = Field(default=120, ge=10, le=3600)


class AlertTransition(ContractModel):
    alert_id: int
    rule: str
    device_id: str
    node_name: str | None
    severity: str
    state: str = Field(description="firing or resolved")
    message: str
    value: float | None
    at: datetime


class AlertRound(ContractModel):
    transitions: list[AlertTransition] = Field(description="What fired and resolved")


# --- Activities the workflows call, as typed references ---
@activity.defn(name=MonitoringActivity.EVALUATE_ALERTS)
async def evaluate_alerts(inp: EvaluateAlertsInput) -> AlertRound:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=MonitoringActivity.COMPACT_METRICS)
async def compact_metrics(inp: CompactionInput) -> CompactionResult:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
