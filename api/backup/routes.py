"""CloudCore contract: backup (`POST /backup`), and our `GET /backups[/{backup_id}]`.

POST /backup (like POST /restore, api.backup.restore_routes) waits up to
EDGEWRIGHT_BACKUP_ANSWER_TIMEOUT_SECONDS for the run to end and answers 200 with the
result; a run still going then (or `?wait=false`) answers 202 with the same body so far
and a `status_url`. See docs/api-notes.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from api.backup.request_schemas import (
    BackupIdPath,
    BackupRequest,
    WaitQuery,
    error_details,
    fingerprint,
    new_id,
    retention,
)
from api.backup.schemas import (
    BackupList,
    BackupView,
    backup_from_row,
    backup_from_run,
)
from api.backup.service import (
    backup_progress,
    run_backup,
)
from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError
from api.core.pagination import PageDep, pagination
from store.backup import records as backups
from workflows.contracts.backup import ALL_INCLUDES, BackupInput, BackupStatus

router = APIRouter(prefix="/api/kubeedge", tags=["backup"])


@router.post(
    "/backup",
    response_model=BackupView,
    responses={
        202: {"model": BackupView},
        409: {"description": "backup_id taken by another request, or that backup cancelled"},
    },
)
async def create_backup(
    body: BackupRequest,
    user: OperatorUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    wait: WaitQuery = True,
) -> Any:
    client = require_temporal(temporal)  # here, not as TemporalDep: a bad body is a 400 first
    backup_id = body.name or new_id("backup")
    include = tuple(i for i in ALL_INCLUDES if body.include is None or i in body.include)
    inp = BackupInput(
        include=include,
        description=body.description,
        retention=retention(settings),
        requested_by=user.username,
        fingerprint=fingerprint(body),
    )
    run = await run_backup(
        client,
        backup_id=backup_id,
        inp=inp,
        task_queue=settings.task_queue,
        wait=settings.backup_answer_timeout_seconds if wait else 0.05,
    )
    view = backup_from_run(run.progress, settings, status="success" if run.finished else "accepted")
    if not run.finished:
        return JSONResponse(view.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    if run.progress.status is not BackupStatus.COMPLETED:
        raise ApiError(
            503 if run.progress.status is BackupStatus.FAILED else 409,
            f"backup {backup_id} {run.progress.status.value}: {run.progress.error}",
            details=error_details(view.model_dump(mode="json"), run.progress.error_type),
        )
    return view


@router.get("/backups", response_model=BackupList)
async def list_backups(
    _user: ViewerUser, session: SessionDep, settings: SettingsDep, page: PageDep
) -> BackupList:
    rows = await backups.list_backups(session, offset=page.offset, limit=page.limit)
    total = await backups.count_backups(session)
    return BackupList(
        count=total,
        backups=[backup_from_row(row, settings) for row in rows],
        pagination=pagination(page, total=total),
    )


@router.get("/backups/{backup_id}", response_model=BackupView)
async def get_backup(
    backup_id: BackupIdPath,
    _user: ViewerUser,
    session: SessionDep,
    settings: SettingsDep,
    client: OptionalTemporalDep,
) -> BackupView:
    row = await backups.get_backup(session, backup_id=backup_id)
    if row is not None:
        return backup_from_row(row, settings)
    # Started a moment ago and not recorded yet: its run knows.
    progress = await backup_progress(client, backup_id=backup_id) if client else None
    if progress is None:
        raise ApiError(404, f"No backup {backup_id}", details={"backup_id": backup_id})
    return backup_from_run(progress, settings, status="success")
