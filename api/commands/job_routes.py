"""Commands to many devices: a broadcast to a device type, and command jobs.

- `POST /api/kubeedge/command/broadcast`: one message on `cloudcore/broadcast/command`;
  answers are collected for `timeout` (status at `/command/{command_id}/status`).
- `POST /api/kubeedge/command/jobs`: CommandJobWorkflow across a selection, at a rate,
  with a per-device timeout and an abort threshold; `GET .../jobs/{job_id}` for progress,
  `POST .../jobs/{job_id}/pause|resume|abort` to steer it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.commands.routes import RUN_MARGIN, Parameters, new_command_id
from api.commands.schemas import CommandAnswer, command_answer
from api.commands.service import start_command
from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError, RunClosed, RunConflict, RunStillRunning
from api.core.links import temporal_ui_link
from api.core.numbers import Number
from api.core.runs import RunStart, progress_of, request_fingerprint, start_or_attach
from workflows.contracts import summaries
from workflows.contracts.commands import (
    BROADCAST_WORKFLOW,
    COMMAND_ACCEPTED_UPDATE,
    COMMAND_FINISHED_UPDATE,
    COMMAND_JOB_WORKFLOW,
    JOB_ABORT_SIGNAL,
    JOB_PAUSE_SIGNAL,
    JOB_PROGRESS_QUERY,
    JOB_RESUME_SIGNAL,
    BroadcastInput,
    CommandId,
    CommandJobInput,
    CommandName,
    DeviceSelection,
    JobProgress,
    JobState,
    command_job_workflow_id,
)
from workflows.contracts.common import COMMAND_ID, DeviceId, ShortText

router = APIRouter(prefix="/api/kubeedge/command", tags=["commands"])


class BroadcastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: CommandName
    device_type: ShortText
    parameters: Parameters = Field(default_factory=dict)
    timeout: float | None = Field(default=None, gt=0, le=24 * 3600)
    command_id: CommandId | None = None


@router.post(
    "/broadcast",
    response_model=CommandAnswer,
    responses={
        202: {"model": CommandAnswer, "description": 'status "accepted": not yet sent or over'},
        409: {"description": "command_id taken by another request"},
    },
)
async def broadcast(
    body: BroadcastRequest,
    user: OperatorUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    wait: Annotated[bool, Query(description="Answer once the answers are collected")] = False,
) -> Any:
    timeout = body.timeout or settings.command_timeout_seconds
    inp = BroadcastInput(
        command_id=body.command_id or new_command_id(),
        device_type=body.device_type,
        command=body.command,
        parameters=body.parameters,
        timeout_seconds=timeout,
        fingerprint=request_fingerprint(body.model_dump(mode="json", exclude={"command_id"})),
        requested_by=user.username,
    )
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    try:
        result = await start_command(
            client,
            workflow=BROADCAST_WORKFLOW,
            arg=inp,
            summary=summaries.broadcast_summary(inp.command, inp.device_type),
            command_id=inp.command_id,
            fingerprint=inp.fingerprint,
            update=COMMAND_FINISHED_UPDATE if wait else COMMAND_ACCEPTED_UPDATE,
            task_queue=settings.task_queue,
            answer_timeout=min(settings.command_wait_max_seconds, timeout + 10)
            if wait
            else settings.command_answer_timeout_seconds,
            run_timeout=timedelta(seconds=timeout) + RUN_MARGIN,
            search_attributes=[SearchAttributePair(COMMAND_ID, inp.command_id)],
        )
    except RunConflict as err:  # RunClosed too: a broadcast's ID is used once
        reason = err.workflow_id if isinstance(err, RunClosed) else err.message
        raise ApiError(409, f"Command {inp.command_id} exists", details={"reason": reason}) from err
    except RunStillRunning as running:
        if running.progress is None:
            raise ApiError(503, "The broadcast was not started; retry") from None
        answer = command_answer(running.progress, settings, waited=False, accepted=True)
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return command_answer(result, settings, waited=wait, accepted=False)


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: CommandName
    parameters: Parameters = Field(default_factory=dict)
    device_ids: list[DeviceId] | None = Field(default=None, max_length=100_000)
    device_type: ShortText | None = None
    rate_per_minute: int = Field(default=600, ge=1, le=100_000)
    timeout: float | None = Field(default=None, gt=0, le=24 * 3600, description="Per device")
    connect_timeout: float | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    abort_threshold_percent: float = Field(default=100.0, gt=0, le=100)
    min_executed_for_abort: int = Field(default=10, ge=1)
    max_in_flight: int = Field(default=500, ge=1, le=5000)
    job_id: CommandId | None = None


class JobAnswer(BaseModel):
    status: str = Field(default="success", description='"accepted" when the POST answers 202')
    job_id: str
    state: JobState
    command: str
    total: int
    started: int
    in_flight: int
    succeeded: int
    failed: int
    timed_out: int
    cancelled: int
    failed_percent: Number
    rate_per_minute: int
    abort_threshold_percent: Number
    min_executed_for_abort: int
    abort_reason: str | None
    created_at: Any
    finished_at: Any
    workflow_id: str
    temporal_ui_url: str
    status_url: str


def _job_answer(
    progress: JobProgress, settings: SettingsDep, *, accepted: bool = False
) -> JobAnswer:
    workflow_id = command_job_workflow_id(progress.job_id)
    return JobAnswer(
        status="accepted" if accepted else "success",
        status_url=f"/api/kubeedge/command/jobs/{progress.job_id}",
        **progress.model_dump(exclude={"runs"}),
        failed_percent=progress.failed_percent,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
    )


@router.post(
    "/jobs",
    response_model=JobAnswer,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: {"description": "job_id taken by another request"}},
)
async def start_job(
    body: JobRequest, user: OperatorUser, settings: SettingsDep, temporal: OptionalTemporalDep
) -> JobAnswer:
    job_id = body.job_id or f"job_{uuid.uuid4().hex[:16]}"
    timeout = body.timeout or settings.command_timeout_seconds
    connect = body.connect_timeout
    if connect is None:
        connect = settings.command_connect_timeout_seconds
    inp = CommandJobInput(
        job_id=job_id,
        command=body.command,
        parameters=body.parameters,
        selection=DeviceSelection(device_ids=body.device_ids, device_type=body.device_type),
        rate_per_minute=body.rate_per_minute,
        timeout_seconds=timeout,
        connect_timeout_seconds=connect,
        abort_threshold_percent=body.abort_threshold_percent,
        min_executed_for_abort=body.min_executed_for_abort,
        max_in_flight=body.max_in_flight,
        requested_by=user.username,
    )
    run = RunStart(
        workflow=COMMAND_JOB_WORKFLOW,
        arg=inp,
        id=command_job_workflow_id(job_id),
        summary=summaries.command_job_summary(inp.command, job_id),
        task_queue=settings.task_queue,
        result_type=JobProgress,
        progress_query=JOB_PROGRESS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=[SearchAttributePair(COMMAND_ID, job_id)],
    )
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    started = await start_or_attach(client, run)
    if started.refused:
        raise RunConflict(f"Job {job_id} exists", details={"workflow_id": run.id})
    return _job_answer(await progress_of(started.handle, run), settings, accepted=True)


async def _progress(client: Client, job_id: str) -> JobProgress:
    handle = client.get_workflow_handle(command_job_workflow_id(job_id))
    try:
        progress: JobProgress = await handle.query(JOB_PROGRESS_QUERY, result_type=JobProgress)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(404, f"Job {job_id} not found", details={"job_id": job_id}) from err
        raise
    return progress


@router.get("/jobs/{job_id}", response_model=JobAnswer)
async def job_progress(
    job_id: CommandId, _user: ViewerUser, settings: SettingsDep, client: TemporalDep
) -> JobAnswer:
    return _job_answer(await _progress(client, job_id), settings)


class JobAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"


_SIGNALS = {
    JobAction.PAUSE: JOB_PAUSE_SIGNAL,
    JobAction.RESUME: JOB_RESUME_SIGNAL,
    JobAction.ABORT: JOB_ABORT_SIGNAL,
}


@router.post(
    "/jobs/{job_id}/{action}",
    response_model=JobAnswer,
    responses={409: {"description": "The job is already over"}},
)
async def steer_job(
    job_id: CommandId,
    action: JobAction,
    _user: OperatorUser,
    settings: SettingsDep,
    client: TemporalDep,
) -> JobAnswer:
    handle = client.get_workflow_handle(command_job_workflow_id(job_id))
    try:
        if action is JobAction.ABORT:
            await handle.signal(_SIGNALS[action], "aborted on request")
        else:
            await handle.signal(_SIGNALS[action])
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        progress = await _progress(client, job_id)  # 404 when there is no such job
        raise ApiError(
            409, f"Job {job_id} is already {progress.state.value}", details={"job_id": job_id}
        ) from err
    return _job_answer(await _progress(client, job_id), settings)
