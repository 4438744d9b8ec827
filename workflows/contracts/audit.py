"""Contracts of the audit feature: the scheduled run that applies the audit log's retention.

The log itself is written by the API (api.core.audit, store.audit); the only deletion is
this run's, of events older than EDGEWRIGHT_AUDIT_RETENTION_DAYS.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field
from temporalio import activity

from workflows.contracts.common import ContractModel

AUDIT_RETENTION_WORKFLOW = "AuditRetentionWorkflow"


def audit_retention_workflow_id(schedule_id: str) -> str:
    """Runs of the schedule `schedule_id`; Temporal appends the scheduled time to this."""
    return f"audit-retention/{schedule_id}"


class AuditActivity(StrEnum):
    PRUNE_AUDIT_LOG = "prune_audit_log"


class AuditRetentionInput(ContractModel):
    retention_days: int = Field(default=90, ge=1, le=3650)


class AuditRetentionResult(ContractModel):
    cutoff: datetime = Field(description="Events older than this were deleted")
    deleted: int


# --- Activities the workflows call, as typed references ---
@activity.defn(name=AuditActivity.PRUNE_AUDIT_LOG)
async def prune_audit_log(inp: AuditRetentionInput) -> AuditRetentionResult:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
