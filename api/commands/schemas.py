"""How a command looks in the CloudCore contract: the seed's fields, then ours.

The same CommandStatus comes from a running workflow or, once it is over, from the store;
both render through here, so an answer does not change shape when the run closes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.core.links import temporal_ui_link
from api.core.numbers import Number
from store.settings import Settings
from workflows.contracts.commands import (
    CommandState,
    CommandStatus,
    DeviceResult,
    command_workflow_id,
)


def execution_time(seconds: float | None) -> str | None:
    """The seed writes "15s"; we keep milliseconds for fast answers ("0.042s")."""
    return None if seconds is None else f"{round(seconds, 3):g}s"


def seed_result(status: CommandStatus) -> Any:
    """The seed's `result`: `{"success": ..., **what the device returned}` once over."""
    if not status.state.final:
        return None
    result: dict[str, Any] = {"success": bool(status.success)}
    if isinstance(status.result, dict):
        result.update(status.result)
    elif status.result is not None:
        result["value"] = status.result
    if status.error and "error" not in result:
        result["error"] = status.error
    return result


class DeviceAnswer(BaseModel):
    device_id: str
    success: bool
    result: Any = None
    error: str | None = None
    received_at: datetime


class CommandAnswer(BaseModel):
    """`POST .../command`: the seed's fields, the state, and with `?wait=true` the result."""

    status: str = Field(description='"success" once sent (or over); "accepted" with 202')
    command_id: str
    device_id: str | None = None
    device_type: str | None = None
    command: str
    sent_at: datetime | None
    expected_response_timeout: Number
    command_status: CommandState
    waiting_for_device: bool
    queued_at: datetime
    completed_at: datetime | None = None
    result: Any = None
    error: str | None = None
    execution_time: str | None = None
    workflow_id: str
    temporal_ui_url: str
    status_url: str


class CommandStatusAnswer(BaseModel):
    """`GET /command/{id}/status`: the seed's four fields first."""

    command_id: str
    status: CommandState
    result: Any = None
    execution_time: str | None = None
    execution_time_ms: float | None = None
    device_id: str | None = None
    node_name: str | None = None
    device_type: str | None = None
    command: str
    parameters: dict[str, Any]
    success: bool | None = None
    error: str | None = None
    error_type: str | None = None
    expected_response_timeout: Number
    waiting_for_device: bool = False
    queued_at: datetime
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    late_result: DeviceAnswer | None = None
    answered: int | None = None
    answers: list[DeviceAnswer] | None = None
    origin: str | None = None
    workflow_id: str
    temporal_ui_url: str


def _device_answer(result: DeviceResult) -> DeviceAnswer:
    return DeviceAnswer(
        device_id=result.device_id,
        success=result.success,
        result=result.result,
        error=result.error,
        received_at=result.received_at,
    )


def command_status_path(command_id: str) -> str:
    return f"/api/kubeedge/command/{command_id}/status"


def command_answer(
    status: CommandStatus, settings: Settings, *, waited: bool, accepted: bool
) -> CommandAnswer:
    """`accepted`: answered 202, the command not yet sent (or, waited for, not yet over)."""
    workflow_id = command_workflow_id(status.command_id)
    over = status.state.final
    return CommandAnswer(
        status="accepted" if accepted else "success",
        command_id=status.command_id,
        device_id=status.device_id,
        device_type=status.device_type,
        command=status.command,
        sent_at=status.sent_at,
        expected_response_timeout=status.timeout_seconds,
        command_status=status.state,
        waiting_for_device=status.waiting_for_device,
        queued_at=status.queued_at,
        completed_at=status.completed_at,
        result=seed_result(status) if waited or over else None,
        error=status.error,
        execution_time=execution_time(status.execution_seconds),
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
        status_url=command_status_path(status.command_id),
    )


def status_answer(status: CommandStatus, settings: Settings) -> CommandStatusAnswer:
    workflow_id = command_workflow_id(status.command_id)
    seconds = status.execution_seconds
    broadcast = status.device_type is not None and status.device_id is None
    return CommandStatusAnswer(
        command_id=status.command_id,
        status=status.state,
        result=seed_result(status),
        execution_time=execution_time(seconds),
        execution_time_ms=round(seconds * 1000, 1) if seconds is not None else None,
        device_id=status.device_id,
        node_name=status.node_name,
        device_type=status.device_type,
        command=status.command,
        parameters=status.parameters,
        success=status.success if status.state.final else None,
        error=status.error,
        error_type=status.error_type,
        expected_response_timeout=status.timeout_seconds,
        waiting_for_device=status.waiting_for_device,
        queued_at=status.queued_at,
        sent_at=status.sent_at,
        completed_at=status.completed_at,
        late_result=_device_answer(status.late_result) if status.late_result else None,
        answered=status.answered if broadcast else None,
        answers=[_device_answer(a) for a in status.answers] if broadcast else None,
        origin=status.origin,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
    )
