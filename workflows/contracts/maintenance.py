"""Maintenance mode: the window's workflow, its ID, messages, status and activity stubs.

One `MaintenanceWorkflow` run holds the window: it records it (the API refuses writes
from then on), pauses what runs, waits for a stop or the deadline, resumes exactly what
it paused and records the end. Its ID is fixed per deployment (task queue), so two
windows can never be open at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field
from temporalio import activity

from workflows.contracts.common import ContractModel, PrintableText

MAINTENANCE_WORKFLOW = "MaintenanceWorkflow"
MAINTENANCE_STATUS_QUERY = "status"
# Answers once the window is recorded and the running work paused.
MAINTENANCE_OPENED_UPDATE = "opened"
# Ends the window; answers once everything paused is resumed and the end recorded.
MAINTENANCE_STOP_UPDATE = "stop"

# Bounds of a window (minutes); a restore's window uses the settings' own length.
MIN_DURATION_MINUTES = 1
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_REASON_CHARS = 200
MAX_MESSAGE_CHARS = 500

# The note a schedule paused by maintenance carries: only such a schedule is unpaused.
SCHEDULE_PAUSE_NOTE = "paused by maintenance mode"

# started_by of a window a restore opened: `restore:{restore_id}`.
RESTORE_STARTER_PREFIX = "restore:"


def maintenance_workflow_id(task_queue: str) -> str:
    """One ID per deployment: its task queue names it (tests share a Temporal server)."""
    return f"maintenance/{task_queue}"


def restore_starter(restore_id: str) -> str:
    return f"{RESTORE_STARTER_PREFIX}{restore_id}"


class PausedKind(StrEnum):
    BATCH_JOIN = "batch_join"
    ROLLOUT = "rollout"
    COMMAND_JOB = "command_job"
    SCHEDULE = "schedule"  # a backup Temporal Schedule


class PausedItem(ContractModel):
    """One thing the window paused: a run (by workflow ID) or a backup schedule."""

    kind: PausedKind
    id: str  # the workflow ID, or the Temporal schedule ID
    run_id: str | None = None  # the run seen when pausing (continue-as-new may follow)


class EndReason(StrEnum):
    STOPPED = "stopped"
    DEADLINE = "deadline"


class MaintenanceInput(ContractModel):
    reason: PrintableText = Field(min_length=1, max_length=MAX_REASON_CHARS)
    message: PrintableText = Field(default="", max_length=MAX_MESSAGE_CHARS)
    duration_minutes: int = Field(ge=MIN_DURATION_MINUTES, le=MAX_DURATION_MINUTES)
    started_by: str = Field(min_length=1, max_length=200)


class MaintenanceStatus(ContractModel):
    """The window as the API shows it and the store keeps it."""

    active: bool
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    ends_at: datetime | None = None
    started_by: str | None = None
    paused: tuple[PausedItem, ...] = ()
    workflow_id: str | None = None
    run_id: str | None = None
    stopped_at: datetime | None = None
    ended: EndReason | None = None
    stopped_by: str | None = None


class StopInput(ContractModel):
    stopped_by: str = Field(min_length=1, max_length=200)


class FindWorkInput(ContractModel):
    """Running work on this task queue to pause (the worker's own queue when None)."""

    task_queue: str | None = None


class SetPausedInput(ContractModel):
    items: tuple[PausedItem, ...]
    paused: bool


class MaintenanceActivity(StrEnum):
    RECORD = "record_maintenance"
    ANNOUNCE = "announce_maintenance"
    FIND_RUNNING_WORK = "find_running_work"
    SET_WORK_PAUSED = "set_work_paused"
    # The restore's: enter (open a window unless one is open) and leave (if it opened it).
    ENTER_FOR_RESTORE = "enter_maintenance_for_restore"
    LEAVE_AFTER_RESTORE = "leave_maintenance_after_restore"


class RestoreWindowInput(ContractModel):
    restore_id: str
    backup_id: str


class RestoreWindow(ContractModel):
    """Whether the restore opened the window (and so must close it), and which run."""

    entered: bool
    run_id: str | None = None


class LeaveInput(ContractModel):
    restore_id: str
    run_id: str


# --- Activities the workflows call, as typed references ---
@activity.defn(name=MaintenanceActivity.RECORD)
async def record_maintenance(inp: MaintenanceStatus) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=MaintenanceActivity.ANNOUNCE)
async def announce_maintenance(inp: MaintenanceStatus) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=MaintenanceActivity.FIND_RUNNING_WORK)
async def find_running_work(inp: FindWorkInput) -> list[PausedItem]:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=MaintenanceActivity.SET_WORK_PAUSED)
async def set_work_paused(inp: SetPausedInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=MaintenanceActivity.ENTER_FOR_RESTORE)
async def enter_maintenance_for_restore(inp: RestoreWindowInput) -> RestoreWindow:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=MaintenanceActivity.LEAVE_AFTER_RESTORE)
async def leave_maintenance_after_restore(inp: LeaveInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
