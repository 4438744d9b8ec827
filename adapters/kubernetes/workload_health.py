"""Is a Deployment/StatefulSet ready for a revision, failed, or still on its way? (no I/O)

Ready for revision R: labelled R, its status describes the current spec
(`status.observedGeneration >= metadata.generation`), and `readyReplicas` and
`updatedReplicas` reach `spec.replicas`. Failed, without waiting: a condition
Progressing=False with reason ProgressDeadlineExceeded (the Deployment controller's
verdict), or `WORKLOAD_FAILED_CONDITION`=True (the simulator's). Conditions only count
once the status describes the current spec, so a failure of the previous revision does
not fail the next one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from workflows.contracts.workloads import REVISION_LABEL, WORKLOAD_FAILED_CONDITION

Body = dict[str, Any]


class Health(StrEnum):
    READY = "ready"
    FAILED = "failed"
    PENDING = "pending"


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def health(obj: Body | None, *, revision: int) -> tuple[Health, str]:
    """The verdict and, for failed or pending, why."""
    if obj is None:
        return Health.PENDING, "its object does not exist yet"
    meta = obj.get("metadata") or {}
    labelled = (meta.get("labels") or {}).get(REVISION_LABEL)
    if labelled != str(revision):
        return Health.PENDING, f"its object is at revision {labelled}, not {revision}"
    status = obj.get("status") or {}
    # No generation at all: a server that does not track it; trust the status as it is.
    generation = _int(meta.get("generation"), default=0)
    observed = _int(status.get("observedGeneration"))
    if observed < generation:
        return Health.PENDING, f"its status describes generation {observed}, not {generation}"
    for condition in status.get("conditions") or []:
        kind, state = condition.get("type"), condition.get("status")
        failed = (kind == WORKLOAD_FAILED_CONDITION and state == "True") or (
            kind == "Progressing"
            and state == "False"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        )
        if failed:
            reason = condition.get("reason") or kind
            message = condition.get("message") or ""
            return Health.FAILED, f"{reason}: {message}" if message else str(reason)
    wanted = _int((obj.get("spec") or {}).get("replicas"), default=1)
    ready = _int(status.get("readyReplicas"))
    updated = _int(status.get("updatedReplicas"))
    if ready >= wanted and updated >= wanted:
        return Health.READY, ""
    return Health.PENDING, f"{ready}/{wanted} replicas ready, {updated}/{wanted} updated"
