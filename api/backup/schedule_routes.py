"""Backup schedules (`/api/kubeedge/backup/schedules`): list, put, pause, resume, trigger.

The worker creates the configured schedule at start (workers/schedules.py); these
endpoints change it, or add more, on the running Temporal Schedules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import ScheduleOverlapPolicy

from api.backup.schedule_service import (
    ScheduleView,
    describe,
    list_schedule_ids,
    put_schedule,
    schedule_link,
    view,
)
from api.core.deps import (
    AdminUser,
    OperatorUser,
    OptionalTemporalDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.core.route_facts import CREATES_AT_PATH
from workflows.contracts.backup import (
    BackupScheduleConfig,
    ScheduleId,
    backup_schedule_temporal_id,
    schedule_problems,
)

router = APIRouter(prefix="/api/kubeedge/backup/schedules", tags=["backup"])

IdPath = Annotated[ScheduleId, Path(description='The schedule\'s id, e.g. "default"')]


class ScheduleList(BaseModel):
    status: str = "success"
    count: int
    schedules: list[ScheduleView]


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=200)


class Triggered(BaseModel):
    status: str = "accepted"
    message: str
    id: str
    temporal_ui_url: str
    status_url: str = Field(description="The schedule: its running and recent_runs")


@router.get("", response_model=ScheduleList)
async def list_schedules(
    _user: ViewerUser, settings: SettingsDep, client: TemporalDep
) -> ScheduleList:
    views = []
    for schedule_id in await list_schedule_ids(client):
        views.append(view(client, settings, schedule_id, await describe(client, schedule_id)))
    return ScheduleList(count=len(views), schedules=views)


@router.get("/{schedule_id}", response_model=ScheduleView)
async def get_schedule(
    schedule_id: IdPath, _user: ViewerUser, settings: SettingsDep, client: TemporalDep
) -> ScheduleView:
    return view(client, settings, schedule_id, await describe(client, schedule_id))


@router.put(
    "/{schedule_id}",
    response_model=ScheduleView,
    openapi_extra=CREATES_AT_PATH,  # creates or replaces: never a 404
    responses={
        201: {"model": ScheduleView},
        400: {
            "model": CloudCoreError,
            "description": "Invalid, runs more often than the configured floor, or keeps "
            "every backup without keep_forever",
        },
        503: {"model": CloudCoreError, "description": "Temporal is not reachable"},
    },
)
async def replace_schedule(
    schedule_id: IdPath,
    body: BackupScheduleConfig,
    _user: AdminUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Any:
    floor = settings.backup_schedule_min_interval_seconds
    problems = schedule_problems(body, min_interval_seconds=floor)
    if problems:
        raise ApiError(
            400,
            f"This schedule is refused: runs at least {floor} seconds apart, and a retention "
            "that prunes (or keep_forever: true)",
            details=problems,
        )
    client = require_temporal(temporal)  # here, not as TemporalDep: a bad body is a 400 first
    created = await put_schedule(client, settings, schedule_id, body)
    answer = view(client, settings, schedule_id, await describe(client, schedule_id))
    if created:
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_201_CREATED)
    return answer


@router.post("/{schedule_id}/pause", response_model=ScheduleView)
async def pause_schedule(
    schedule_id: IdPath,
    _user: AdminUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    body: Annotated[Note | None, Body()] = None,
) -> ScheduleView:
    client = require_temporal(temporal)  # here, not as TemporalDep: a bad body is a 400 first
    await describe(client, schedule_id)  # 404 when there is no such schedule
    handle = client.get_schedule_handle(backup_schedule_temporal_id(schedule_id))
    await handle.pause(note=(body.note if body else None) or "paused through the API")
    return view(client, settings, schedule_id, await describe(client, schedule_id))


@router.post("/{schedule_id}/resume", response_model=ScheduleView)
async def resume_schedule(
    schedule_id: IdPath,
    _user: AdminUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    body: Annotated[Note | None, Body()] = None,
) -> ScheduleView:
    client = require_temporal(temporal)
    await describe(client, schedule_id)
    handle = client.get_schedule_handle(backup_schedule_temporal_id(schedule_id))
    await handle.unpause(note=(body.note if body else None) or "resumed through the API")
    return view(client, settings, schedule_id, await describe(client, schedule_id))


@router.post(
    "/{schedule_id}/trigger", status_code=status.HTTP_202_ACCEPTED, response_model=Triggered
)
async def trigger_schedule(
    schedule_id: IdPath, _user: OperatorUser, settings: SettingsDep, client: TemporalDep
) -> Triggered:
    desc = await describe(client, schedule_id)
    # BUFFER_ONE: a backup already running finishes first, then this one runs; the
    # schedule's own SKIP would silently drop a trigger that an operator asked for.
    await client.get_schedule_handle(desc.id).trigger(overlap=ScheduleOverlapPolicy.BUFFER_ONE)
    return Triggered(
        message=f"backup schedule {schedule_id} triggered; the run appears in recent_runs",
        id=schedule_id,
        temporal_ui_url=schedule_link(settings, desc.id),
        status_url=f"/api/kubeedge/backup/schedules/{schedule_id}",
    )
