"""CloudCore contract: connection tests.

`POST /api/kubeedge/test/connection` runs checks on a device (`ping`, `port_check`, and
the device type's own, e.g. `camera_test`) as commands, in ConnectionTestWorkflow;
`GET /api/kubeedge/test/results/{test_id}` reports each check while and after it runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.commands.schemas import execution_time
from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError, RunConflict
from api.core.links import temporal_ui_link
from api.core.runs import RunStart, progress_of, start_or_attach
from store import commands
from store.devices import inventory as devices
from store.models import Device
from workflows.contracts import summaries
from workflows.contracts.commands import (
    CONNECTION_TEST_PROGRESS_QUERY,
    CONNECTION_TEST_WORKFLOW,
    CheckOutcome,
    CommandId,
    CommandName,
    CommandState,
    ConnectionTestInput,
    ConnectionTestProgress,
    connection_test_workflow_id,
)
from workflows.contracts.common import DEVICE_ID, DeviceId

router = APIRouter(prefix="/api/kubeedge/test", tags=["commands"])

BASIC_CHECKS = ("ping", "port_check")
TYPE_CHECKS = {"camera": "camera_test", "sensor": "sensor_test"}
CHECK_TIMEOUT_SECONDS = 10.0


class ConnectionTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: DeviceId
    tests: list[CommandName] | None = Field(default=None, min_length=1, max_length=20)
    parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Parameters per check, e.g. {port_check: {port: 22}}"
    )
    timeout: float = Field(default=CHECK_TIMEOUT_SECONDS, gt=0, le=3600)
    connect_timeout: float = Field(default=0, ge=0, le=3600)
    test_id: CommandId | None = None


class CheckAnswer(BaseModel):
    name: str
    command_id: str
    status: CommandState
    success: bool | None
    result: Any = None
    error: str | None = None
    execution_time: str | None = None


class TestResults(BaseModel):
    status: str = Field(default="success", description='"accepted" when the POST answers 202')
    test_id: str
    device_id: str
    state: str
    passed: int
    failed: int
    tests: list[str]
    results: list[CheckAnswer]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    workflow_id: str
    temporal_ui_url: str
    status_url: str


def _checks(body: ConnectionTestRequest, device: Device) -> list[str]:
    if body.tests:
        return list(dict.fromkeys(body.tests))
    own = TYPE_CHECKS.get(device.device_type or "")
    return [*BASIC_CHECKS, own] if own else list(BASIC_CHECKS)


def _answer(
    progress: ConnectionTestProgress, settings: SettingsDep, *, accepted: bool = False
) -> TestResults:
    workflow_id = connection_test_workflow_id(progress.test_id)
    return TestResults(
        status="accepted" if accepted else "success",
        status_url=f"/api/kubeedge/test/results/{progress.test_id}",
        test_id=progress.test_id,
        device_id=progress.device_id,
        state=progress.state,
        passed=progress.passed,
        failed=progress.failed,
        tests=[outcome.name for outcome in progress.results],
        results=[_check(outcome) for outcome in progress.results],
        started_at=progress.started_at,
        finished_at=progress.finished_at,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
    )


def _check(outcome: CheckOutcome) -> CheckAnswer:
    return CheckAnswer(
        name=outcome.name,
        command_id=outcome.command_id,
        status=outcome.state,
        success=outcome.success,
        result=outcome.result,
        error=outcome.error,
        execution_time=execution_time(outcome.execution_seconds),
    )


@router.post(
    "/connection",
    response_model=TestResults,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "No such device"},
        409: {"description": "test_id taken by another request"},
    },
)
async def start_connection_test(
    body: ConnectionTestRequest,
    user: OperatorUser,
    settings: SettingsDep,
    session: SessionDep,
    temporal: OptionalTemporalDep,
) -> TestResults:
    device = await devices.get_device(session, device_id=body.device_id)
    if device is None:
        raise ApiError(404, f"Device {body.device_id} not found")
    test_id = body.test_id or f"test_{uuid.uuid4().hex[:16]}"
    inp = ConnectionTestInput(
        test_id=test_id,
        device_id=body.device_id,
        tests=_checks(body, device),
        parameters=body.parameters,
        timeout_seconds=body.timeout,
        connect_timeout_seconds=body.connect_timeout,
        requested_by=user.username,
    )
    run = RunStart(
        workflow=CONNECTION_TEST_WORKFLOW,
        arg=inp,
        id=connection_test_workflow_id(test_id),
        summary=summaries.connection_test_summary(body.device_id, len(inp.tests)),
        task_queue=settings.task_queue,
        result_type=ConnectionTestProgress,
        progress_query=CONNECTION_TEST_PROGRESS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=[SearchAttributePair(DEVICE_ID, body.device_id)],
    )
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    started = await start_or_attach(client, run)
    if started.refused:
        raise RunConflict(f"Test {test_id} exists", details={"workflow_id": run.id})
    return _answer(await progress_of(started.handle, run), settings, accepted=True)


@router.get("/results/{test_id}", response_model=TestResults)
async def connection_test_results(
    test_id: CommandId,
    _user: ViewerUser,
    settings: SettingsDep,
    session: SessionDep,
    client: TemporalDep,
) -> TestResults:
    handle = client.get_workflow_handle(connection_test_workflow_id(test_id))
    try:
        progress: ConnectionTestProgress = await handle.query(
            CONNECTION_TEST_PROGRESS_QUERY, result_type=ConnectionTestProgress
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        progress = await _from_store(session, test_id)
    return _answer(progress, settings)


async def _from_store(session: SessionDep, test_id: str) -> ConnectionTestProgress:
    """Past Temporal's retention the checks' own records still tell the story."""
    rows = await commands.commands_of_origin(session, origin=f"test/{test_id}")
    if not rows:
        raise ApiError(404, f"Test {test_id} not found", details={"test_id": test_id})
    outcomes = [commands.status_of(row) for row in rows]
    results = [
        CheckOutcome(
            name=s.command,
            command_id=s.command_id,
            state=s.state,
            success=s.success,
            result=s.result,
            error=s.error,
            execution_seconds=s.execution_seconds,
        )
        for s in outcomes
    ]
    passed = sum(1 for s in outcomes if s.state == CommandState.COMPLETED)
    over = all(s.state.final for s in outcomes)
    return ConnectionTestProgress(
        test_id=test_id,
        device_id=outcomes[0].device_id or "",
        state="completed" if over else "running",
        passed=passed,
        failed=sum(1 for s in outcomes if s.state.final) - passed,
        started_at=min(s.queued_at for s in outcomes),
        finished_at=max((s.completed_at for s in outcomes if s.completed_at), default=None),
        results=results,
    )
