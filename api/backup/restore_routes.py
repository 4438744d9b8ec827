"""CloudCore contract: restore (`POST /restore`) and our `GET /restores/{restore_id}`.

A restore waits like a backup (see api.backup.routes) and answers refusals in the
CloudCore envelope with `details.error_type`; see docs/api-notes.md for the table.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse

from api.backup.request_schemas import (
    RestoreRequest,
    WaitQuery,
    error_details,
    fingerprint,
    new_id,
    retention,
)
from api.backup.schemas import (
    RestoreView,
    restore_from_row,
    restore_from_run,
)
from api.backup.service import (
    restore_progress,
    run_restore,
)
from api.core.audit import defer_audit_event
from api.core.deps import (
    AdminUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError
from api.core.state import app_state
from store.audit import AuditEvent
from store.backup import records as backups
from workflows.contracts.backup import RestoreInput, RestoreStatus
from workflows.contracts.common import BackupErrorType

router = APIRouter(prefix="/api/kubeedge", tags=["backup"])


@router.post(
    "/restore",
    response_model=RestoreView,
    responses={
        202: {"model": RestoreView},
        404: {"description": "No such backup"},
        409: {"description": "Another restore is running, or this one was cancelled"},
    },
)
async def create_restore(
    body: RestoreRequest,
    request: Request,
    user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    wait: WaitQuery = True,
) -> Any:
    client = require_temporal(temporal)  # here, not as TemporalDep: a bad body is a 400 first
    restore_id = body.restore_id or new_id("restore")
    running = [r for r in await backups.running_restores(session) if r != restore_id]
    if running and not body.dry_run:
        raise ApiError(
            409,
            f"restore {running[0]} is still running; one restore at a time",
            details={"running_restore_id": running[0]},
        )
    inp = RestoreInput(
        backup_id=body.backup_id,
        dry_run=body.dry_run,
        mode=body.mode,
        include=tuple(body.include) if body.include else None,
        safety_retention=retention(settings),
        requested_by=user.username,
        fingerprint=fingerprint(body.model_copy(update={"restore_id": None})),
    )
    run = await run_restore(
        client,
        restore_id=restore_id,
        inp=inp,
        task_queue=settings.task_queue,
        wait=settings.backup_answer_timeout_seconds if wait else 0.05,
    )
    # Deferred: the run is started whatever this request answers (a failed restore's
    # error rolls the request's transaction back).
    defer_audit_event(
        request,
        event=AuditEvent.RESTORE_STARTED,
        target=f"restore:{restore_id}",
        details={
            "restore_id": restore_id,
            "backup_id": body.backup_id,
            "dry_run": body.dry_run,
            "mode": body.mode.value,
        },
    )
    # The restore opened (and, if it finished, closed) a maintenance window meanwhile:
    # this replica's next write must not be judged by a copy read before either.
    app_state(request.app).maintenance.invalidate()
    view = restore_from_run(
        run.progress, settings, status="success" if run.finished else "accepted"
    )
    if not run.finished:
        return JSONResponse(view.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    if run.progress.status is not RestoreStatus.COMPLETED:
        raise ApiError(
            _restore_failure_status(run.progress.error_type, run.progress.status),
            f"restore {restore_id} {run.progress.status.value}: {run.progress.error}",
            details=error_details(view.model_dump(mode="json"), run.progress.error_type),
        )
    return view


@router.get("/restores/{restore_id}", response_model=RestoreView)
async def get_restore(
    restore_id: Annotated[str, Path(max_length=128)],
    _user: ViewerUser,
    session: SessionDep,
    settings: SettingsDep,
    client: OptionalTemporalDep,
) -> RestoreView:
    row = await backups.get_restore(session, restore_id=restore_id)
    if row is not None:
        return restore_from_row(row, settings)
    progress = await restore_progress(client, restore_id=restore_id) if client else None
    if progress is None:
        raise ApiError(404, f"No restore {restore_id}", details={"restore_id": restore_id})
    return restore_from_run(progress, settings, status="success")


# A refused archive is the caller's problem to look at (4xx); a dependency down is ours (503).
_REFUSED: dict[str, int] = {
    BackupErrorType.ARCHIVE_MISSING: 404,
    BackupErrorType.CHECKSUM_MISMATCH: 409,
    BackupErrorType.ARCHIVE_CORRUPT: 409,
    BackupErrorType.FOREIGN_ARCHIVE: 409,
    BackupErrorType.UNSUPPORTED_FORMAT: 409,
    BackupErrorType.RESTORE_CONFLICT: 409,
}


def _restore_failure_status(error_type: str | None, state: RestoreStatus) -> int:
    if state is RestoreStatus.CANCELLED:
        return 409
    return _REFUSED.get(error_type or "", 503)
