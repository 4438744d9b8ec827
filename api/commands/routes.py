"""CloudCore contract: commands to one device.

`POST /api/kubeedge/device/{device_id}/command` (`?wait=true` to answer with the result),
`GET /api/kubeedge/command/{command_id}/status`, `POST /api/kubeedge/command/{command_id}/cancel`.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import SearchAttributePair

from api.commands.schemas import CommandAnswer, CommandStatusAnswer, command_answer, status_answer
from api.commands.service import cancel, live_status, start_command
from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError, RunClosed, RunStillRunning
from api.core.runs import request_fingerprint
from store import commands
from store.devices import presence
from store.settings import Settings
from workflows.contracts import summaries
from workflows.contracts.commands import (
    COMMAND_ACCEPTED_UPDATE,
    COMMAND_FINISHED_UPDATE,
    COMMAND_WORKFLOW,
    CommandId,
    CommandInput,
    CommandName,
    CommandState,
    CommandStatus,
)
from workflows.contracts.common import COMMAND_ID, DEVICE_ID, STAGE, CommandErrorType, DeviceId

router = APIRouter(prefix="/api/kubeedge", tags=["commands"])

MAX_PARAMETERS_BYTES = 64 * 1024
# A finished run is kept in Temporal only so long; past the timeouts it may as well end.
RUN_MARGIN = timedelta(hours=1)


def _small(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_PARAMETERS_BYTES:
        raise ValueError(f"at most {MAX_PARAMETERS_BYTES} bytes of JSON")
    return value


Parameters = Annotated[dict[str, Any], AfterValidator(_small)]


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: CommandName
    parameters: Parameters = Field(default_factory=dict)
    timeout: float | None = Field(
        default=None, gt=0, le=24 * 3600, description="Seconds the device has to answer"
    )
    connect_timeout: float | None = Field(
        default=None, ge=0, le=7 * 24 * 3600, description="Seconds an offline device may take"
    )
    command_id: CommandId | None = Field(
        default=None, description="Idempotency key: the same ID and body is the same command"
    )


def new_command_id() -> str:
    return f"cmd_{uuid.uuid4().hex[:16]}"


def _input(device_id: str, body: CommandRequest, settings: Settings, user: str) -> CommandInput:
    timeout = body.timeout or settings.command_timeout_seconds
    connect = body.connect_timeout
    if connect is None:
        connect = settings.command_connect_timeout_seconds
    request = body.model_dump(mode="json", exclude={"command_id"})
    return CommandInput(
        command_id=body.command_id or new_command_id(),
        device_id=device_id,
        command=body.command,
        parameters=body.parameters,
        timeout_seconds=timeout,
        connect_timeout_seconds=connect,
        fingerprint=request_fingerprint({"device_id": device_id, **request}),
        requested_by=user,
    )


def _respond(status_: CommandStatus, settings: Settings, *, waited: bool) -> Any:
    answer = command_answer(status_, settings, waited=waited, accepted=False)
    if waited and status_.error_type == CommandErrorType.UNREACHABLE.value:
        raise ApiError(
            502,
            status_.error or f"device {status_.device_id} is unreachable",
            details={
                "command_id": status_.command_id,
                "command_status": status_.state.value,
                "workflow_id": answer.workflow_id,
                "temporal_ui_url": answer.temporal_ui_url,
            },
        )
    if status_.state == CommandState.QUEUED:  # waiting for its offline device
        answer = command_answer(status_, settings, waited=waited, accepted=True)
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return JSONResponse(answer.model_dump(mode="json"))


@router.post(
    "/device/{device_id}/command",
    response_model=CommandAnswer,
    responses={
        202: {
            "model": CommandAnswer,
            "description": 'status "accepted": the device is offline and the command waits '
            "for it (or, with wait=true, is not over yet); follow status_url",
        },
        404: {"description": "No such device"},
        409: {"description": "command_id taken by another request"},
        502: {"description": "With wait=true: the device did not come online in time"},
    },
)
async def send_command(
    device_id: Annotated[DeviceId, Path(description="The device's ID (DNS-1123 label)")],
    body: CommandRequest,
    user: OperatorUser,
    settings: SettingsDep,
    session: SessionDep,
    temporal: OptionalTemporalDep,
    wait: Annotated[
        bool, Query(description="Answer when the command is over, with its result")
    ] = False,
) -> Any:
    if await presence.presence_of(session, device_id=device_id) is None:
        raise ApiError(404, f"Device {device_id} not found", details={"device_id": device_id})
    inp = _input(device_id, body, settings, user.username)
    longest = inp.connect_timeout_seconds + inp.timeout_seconds
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    # The run may take the whole command's time to answer. Holding the request's
    # transaction meanwhile held a pooled connection per waiting POST: at 15 the pool was
    # empty and further commands queued in the API, not in Temporal (bench.command_latency,
    # 50 at once). Nothing was written so far; a read after the wait begins anew.
    await session.commit()
    try:
        result = await start_command(
            client,
            workflow=COMMAND_WORKFLOW,
            arg=inp,
            summary=summaries.command_summary(inp.command, inp.device_id),
            command_id=inp.command_id,
            fingerprint=inp.fingerprint,
            update=COMMAND_FINISHED_UPDATE if wait else COMMAND_ACCEPTED_UPDATE,
            task_queue=settings.task_queue,
            answer_timeout=min(settings.command_wait_max_seconds, longest + 10)
            if wait
            else settings.command_answer_timeout_seconds,
            run_timeout=timedelta(seconds=longest) + RUN_MARGIN,
            search_attributes=[
                SearchAttributePair(COMMAND_ID, inp.command_id),
                SearchAttributePair(DEVICE_ID, device_id),
                SearchAttributePair(STAGE, CommandState.QUEUED.value),
            ],
        )
    except RunClosed:  # before RunConflict (409), which it is a kind of
        result = await _finished(session, inp)
    except RunStillRunning as running:
        if running.progress is None:
            raise ApiError(503, "The command was not started; retry") from None
        answer = command_answer(running.progress, settings, waited=False, accepted=True)
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return _respond(result, settings, waited=wait)


async def _finished(session: AsyncSession, inp: CommandInput) -> CommandStatus:
    """A repeated POST of a command that is over: its recorded outcome, if it matches."""
    row = await commands.get_command(session, command_id=inp.command_id)
    if row is None:
        raise ApiError(409, f"Command {inp.command_id} exists but has no record yet; retry")
    same = (row.device_id, row.command, row.parameters) == (
        inp.device_id,
        inp.command,
        inp.parameters,
    )
    if not same:
        raise ApiError(409, f"Command {inp.command_id} exists with another request")
    return commands.status_of(row)


@router.get(
    "/command/{command_id}/status",
    response_model=CommandStatusAnswer,
    responses={404: {"description": "No such command"}},
)
async def command_status(
    command_id: CommandId,
    _user: ViewerUser,
    settings: SettingsDep,
    session: SessionDep,
    client: TemporalDep,
) -> CommandStatusAnswer:
    found = await _current(command_id, session=session, client=client)
    return status_answer(found, settings)


async def _current(command_id: str, *, session: AsyncSession, client: Client) -> CommandStatus:
    # A final row is the record; anything else is best asked of the run itself.
    row = await commands.get_command(session, command_id=command_id)
    if row is not None and CommandState(row.status).final:
        return commands.status_of(row)
    running = await live_status(client, command_id=command_id, row=row)
    if running is not None:
        return running
    raise ApiError(404, f"Command {command_id} not found", details={"command_id": command_id})


@router.post(
    "/command/{command_id}/cancel",
    response_model=CommandStatusAnswer,
    responses={404: {"description": "No such command"}},
)
async def cancel_command(
    command_id: CommandId,
    _user: OperatorUser,
    settings: SettingsDep,
    session: SessionDep,
    client: TemporalDep,
) -> CommandStatusAnswer:
    """Cancel a command still queued or sent; a command already over answers as it ended."""
    await session.commit()  # not held while the run winds down (see send_command)
    cancelled = await cancel(client, command_id=command_id)
    if cancelled is None:
        cancelled = await _current(command_id, session=session, client=client)
    return status_answer(cancelled, settings)
