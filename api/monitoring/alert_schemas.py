"""Alert rules and alerts as the CloudCore API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.core.pagination import Pagination
from store.models import AlertRow, AlertRule

RuleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Metric = Literal[
    "cpu_usage",
    "memory_percent",
    "disk_percent",
    "memory_usage",
    "disk_usage",
    "temperature",
    "offline",
]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["info", "warning", "critical"]
State = Literal["firing", "resolved"]


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: Metric = Field(
        description="cpu_usage (%), memory_percent, disk_percent, memory_usage (GB), "
        "disk_usage (GB), temperature (°C), offline (1 while offline)"
    )
    op: Op
    threshold: float = Field(ge=-1e12, le=1e12, allow_inf_nan=False)
    for_seconds: int = Field(
        default=0, ge=0, le=7 * 86_400, description="How long it must hold before it fires"
    )
    severity: Severity = "warning"
    enabled: bool = True


class RuleView(RuleSpec):
    name: str
    updated_at: datetime


class RuleList(BaseModel):
    count: int
    rules: list[RuleView]


class AlertView(BaseModel):
    id: int
    rule: str
    type: str = Field(description="The rule's name, as the seed's alert `type` (high_cpu)")
    severity: str
    state: str
    device_id: str
    node_name: str | None
    message: str
    value: float | None
    started_at: datetime | None = Field(description="When it fired")
    resolved_at: datetime | None
    acknowledged_at: datetime | None


class AlertList(BaseModel):
    count: int = Field(description="Alerts matching the filters (all pages)")
    alerts: list[AlertView]
    pagination: Pagination


def rule_view(rule: AlertRule) -> RuleView:
    return RuleView(
        name=rule.name,
        metric=rule.metric,  # validated when written
        op=rule.op,
        threshold=rule.threshold,
        for_seconds=rule.for_seconds,
        severity=rule.severity,
        enabled=rule.enabled,
        updated_at=rule.updated_at,
    )


def alert_view(row: AlertRow) -> AlertView:
    return AlertView(
        id=row.id,
        rule=row.rule,
        type=row.rule,
        severity=row.severity,
        state=row.state,
        device_id=row.device_id,
        node_name=row.node_name,
        message=row.message,
        value=row.value,
        started_at=row.started_at,
        resolved_at=row.resolved_at,
        acknowledged_at=row.acknowledged_at,
    )
