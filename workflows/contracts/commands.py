"""Commands to devices: one command, command jobs, broadcasts and connection tests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
)
from temporalio import activity

from workflows.contracts.common import ContractModel, DeviceId, ShortText

COMMAND_WORKFLOW = "CommandWorkflow"


COMMAND_JOB_WORKFLOW = "CommandJobWorkflow"


BROADCAST_WORKFLOW = "BroadcastCommandWorkflow"


CONNECTION_TEST_WORKFLOW = "ConnectionTestWorkflow"


# Command and job IDs become workflow IDs and MQTT payload keys: plain characters only.
CommandId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


CommandName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


def command_workflow_id(command_id: str) -> str:
    return f"command/{command_id}"


def command_job_workflow_id(job_id: str) -> str:
    return f"command-job/{job_id}"


def connection_test_workflow_id(test_id: str) -> str:
    return f"device-test/{test_id}"


def job_command_id(job_id: str, device_id: str) -> str:
    """The command a job sends one device: unique per job and device, so retried starts
    of the same child land on the same run."""
    return f"{job_id}.{device_id}"


class CommandState(StrEnum):
    QUEUED = "queued"  # accepted; not yet published (the device may be offline)
    SENT = "sent"  # published to the device; waiting for its result
    COMPLETED = "completed"  # the device answered success
    FAILED = "failed"  # the device answered failure, or could not be reached in time
    TIMED_OUT = "timed_out"  # sent, but no answer within `timeout`
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in (CommandState.QUEUED, CommandState.SENT)


# Message names on CommandWorkflow (and BroadcastCommandWorkflow, which shares them).
COMMAND_STATUS_QUERY = "status"


COMMAND_RESULT_SIGNAL = "device_result"


COMMAND_DEVICE_ONLINE_SIGNAL = "device_online"


COMMAND_ACCEPTED_UPDATE = "accepted"  # answers once sent, or once waiting for the device


COMMAND_FINISHED_UPDATE = "finished"  # answers once the command is in a final state


COMMAND_CANCEL_UPDATE = "cancel"


class CommandActivity(StrEnum):
    DISPATCH_COMMAND = "dispatch_command"
    RECORD_COMMAND = "record_command"
    RECORD_LATE_RESULT = "record_late_result"
    PUBLISH_BROADCAST = "publish_broadcast"
    COUNT_JOB_DEVICES = "count_job_devices"
    SELECT_JOB_DEVICES = "select_job_devices"


class CommandInput(ContractModel):
    command_id: CommandId
    device_id: DeviceId
    command: CommandName
    parameters: dict[str, Any] = Field(default_factory=dict)
    # From the publish to the device's answer (the seed's `timeout`).
    timeout_seconds: float = Field(gt=0, le=24 * 3600)
    # How long an offline device may take to come online before the command fails.
    connect_timeout_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    origin: str | None = None  # "job/{job_id}" or "test/{test_id}" for commands of a group
    fingerprint: str = ""  # sha256 of the request: same ID and body is the same command
    requested_by: str | None = None
    # Safety net beside the bridge's device_online signal: look at presence after this
    # long, then at doubling intervals.
    presence_poll_seconds: float = Field(default=10.0, gt=0)


class DeviceResult(ContractModel):
    """A device's answer on `cloudcore/device/{id}/result`, as the bridge passes it on."""

    command_id: str
    device_id: str
    success: bool
    result: Any = None
    error: str | None = None
    received_at: datetime


class CommandStatus(ContractModel):
    """What a command run says about itself: the status query, the updates, the result."""

    command_id: str
    device_id: str | None = None
    node_name: str | None = None
    device_type: str | None = None  # broadcasts target a type, not one device
    command: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    state: CommandState
    waiting_for_device: bool = False
    timeout_seconds: float
    connect_timeout_seconds: float = 0
    origin: str | None = None
    fingerprint: str = ""
    requested_by: str | None = None
    queued_at: datetime
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    success: bool | None = None
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    late_result: DeviceResult | None = None
    # Broadcasts: every device that answered (up to a cap) and how many did.
    answers: list[DeviceResult] = Field(default_factory=list)
    answered: int = 0

    @property
    def execution_seconds(self) -> float | None:
        if self.sent_at is None or self.completed_at is None:
            return None
        return max(0.0, (self.completed_at - self.sent_at).total_seconds())


class DispatchInput(ContractModel):
    """Publish the command if the device is known and online; record what happened."""

    status: CommandStatus


class DispatchOutcome(ContractModel):
    known: bool
    online: bool
    node_name: str | None = None
    sent_at: datetime | None = None


class LateResultInput(ContractModel):
    command_id: str
    result: DeviceResult


class BroadcastInput(ContractModel):
    command_id: CommandId
    device_type: ShortText
    command: CommandName
    parameters: dict[str, Any] = Field(default_factory=dict)
    # How long the broadcast collects answers.
    timeout_seconds: float = Field(gt=0, le=24 * 3600)
    fingerprint: str = ""
    requested_by: str | None = None
    max_answers: int = Field(default=1000, ge=0)


class BroadcastOutcome(ContractModel):
    sent_at: datetime
    # Devices of the type that were online when it went out: the answers to expect.
    expected: int


class DeviceSelection(ContractModel):
    """Which devices a job targets; both empty means every device in the inventory."""

    device_ids: list[DeviceId] | None = Field(default=None, max_length=100_000)
    device_type: ShortText | None = None


class JobPageInput(ContractModel):
    selection: DeviceSelection
    after: str | None = None  # device IDs are paged in order, after this one
    limit: int = Field(gt=0, le=10_000)


class JobState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"  # stopped by the abort threshold or an abort signal
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.ABORTED, JobState.CANCELLED)


JOB_PROGRESS_QUERY = "progress"


JOB_PAUSE_SIGNAL = "pause"


JOB_RESUME_SIGNAL = "resume"


JOB_ABORT_SIGNAL = "abort"


class JobProgress(ContractModel):
    job_id: str
    command: str
    state: JobState
    total: int = 0
    started: int = 0
    in_flight: int = 0
    succeeded: int = 0
    failed: int = 0  # failed and timed out: what the abort threshold counts
    timed_out: int = 0
    cancelled: int = 0
    rate_per_minute: int
    abort_threshold_percent: float
    min_executed_for_abort: int
    abort_reason: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    runs: int = 1  # continue-as-new generations

    @property
    def executed(self) -> int:
        return self.succeeded + self.failed

    @property
    def failed_percent(self) -> float:
        return round(100.0 * self.failed / self.executed, 2) if self.executed else 0.0


class CommandJobInput(ContractModel):
    job_id: CommandId
    command: CommandName
    parameters: dict[str, Any] = Field(default_factory=dict)
    selection: DeviceSelection = DeviceSelection()
    rate_per_minute: int = Field(default=600, ge=1, le=100_000)
    timeout_seconds: float = Field(gt=0, le=24 * 3600)
    connect_timeout_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    # Abort once at least `min_executed_for_abort` devices finished and this share failed.
    abort_threshold_percent: float = Field(default=100.0, gt=0, le=100)
    min_executed_for_abort: int = Field(default=10, ge=1)
    max_in_flight: int = Field(default=500, ge=1, le=5000)
    fingerprint: str = ""
    requested_by: str | None = None
    # Children one run starts before it continues as new (a few events each).
    continue_after: int = Field(default=2000, ge=1)
    # Set by continue-as-new: where the previous run stopped.
    carried: JobProgress | None = None
    cursor: str | None = None
    paused: bool = False


CONNECTION_TEST_PROGRESS_QUERY = "progress"


class ConnectionTestInput(ContractModel):
    test_id: CommandId
    device_id: DeviceId
    tests: list[CommandName] = Field(min_length=1, max_length=20)
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per test
    timeout_seconds: float = Field(gt=0, le=3600)
    connect_timeout_seconds: float = Field(ge=0, le=3600)
    fingerprint: str = ""
    requested_by: str | None = None


class CheckOutcome(ContractModel):
    name: str
    command_id: str
    state: CommandState
    success: bool | None = None
    result: Any = None
    error: str | None = None
    execution_seconds: float | None = None


class ConnectionTestProgress(ContractModel):
    test_id: str
    device_id: str
    state: Literal["running", "completed"]
    passed: int = 0
    failed: int = 0
    started_at: datetime
    finished_at: datetime | None = None
    results: list[CheckOutcome] = Field(default_factory=list)


# --- Activities the workflows call, as typed references ---
# Workflows may not import activities/ (I/O libraries), so they call these stubs: mypy
# checks each call's argument and result. tests/workers/test_activity_stubs.py checks
# them against what workers/worker.py registers under the same names.
@activity.defn(name=CommandActivity.DISPATCH_COMMAND)
async def dispatch_command(inp: DispatchInput) -> DispatchOutcome:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CommandActivity.RECORD_COMMAND)
async def record_command(inp: CommandStatus) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CommandActivity.RECORD_LATE_RESULT)
async def record_late_result(inp: LateResultInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CommandActivity.PUBLISH_BROADCAST)
async def publish_broadcast(inp: DispatchInput) -> BroadcastOutcome:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CommandActivity.COUNT_JOB_DEVICES)
async def count_job_devices(inp: DeviceSelection) -> int:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CommandActivity.SELECT_JOB_DEVICES)
async def select_job_devices(inp: JobPageInput) -> list[str]:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
