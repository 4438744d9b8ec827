"""CloudCore contract: maintenance mode (`/api/kubeedge/maintenance/start|stop|status`).

Admins start and stop it; anyone logged in reads the status. Starting while a window is
open, or stopping when none is, is a 409 (API-005), so a script never believes it opened
or ended a window it did not. Both wait for the window's run to answer (the window is
open, or everything it paused is resumed); a run slower than
EDGEWRIGHT_MAINTENANCE_ANSWER_TIMEOUT_SECONDS gives a 202 with what it says so far.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from api.core.deps import (
    AdminUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.envelopes import CloudCoreError
from api.core.state import app_state
from api.maintenance import service
from api.maintenance.schemas import MaintenanceView, StartRequest
from store.settings import Settings
from workflows.contracts.maintenance import MaintenanceStatus

router = APIRouter(prefix="/api/kubeedge/maintenance", tags=["maintenance"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        202: "The window's run took the request but did not answer in time; see status",
        400: "Invalid body: reason, duration_minutes (whole minutes) or message",
        401: "Not logged in",
        403: "Starting and stopping maintenance needs the admin role",
        409: "Start: maintenance is already active. Stop: maintenance is not active",
        503: "Temporal is not reachable yet",
    }
    return {
        code: {
            "model": MaintenanceView if code == 202 else CloudCoreError,
            "description": text[code],
        }
        for code in codes
    }


@router.post(
    "/start", response_model=MaintenanceView, responses=_errors(202, 400, 401, 403, 409, 503)
)
async def start_maintenance(
    body: StartRequest,
    request: Request,
    user: AdminUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Any:
    client = require_temporal(temporal)  # here, not as TemporalDep: a bad body is a 400 first
    try:
        started = await service.start(request, client, settings, user=user, body=body)
    except service.Accepted as late:
        return _accepted(late.status, settings)
    finally:
        app_state(request.app).maintenance.invalidate()
    return service.view(started, settings)


@router.post("/stop", response_model=MaintenanceView, responses=_errors(202, 401, 403, 409, 503))
async def stop_maintenance(
    request: Request, user: AdminUser, settings: SettingsDep, temporal: OptionalTemporalDep
) -> Any:
    client = require_temporal(temporal)
    try:
        stopped = await service.stop(request, client, settings, user=user)
    except service.Accepted as late:
        return _accepted(late.status, settings)
    finally:
        app_state(request.app).maintenance.invalidate()
    return service.view(stopped, settings)


@router.get("/status", response_model=MaintenanceView, responses=_errors(401))
async def maintenance_status(
    _user: ViewerUser, session: SessionDep, settings: SettingsDep
) -> MaintenanceView:
    return service.view(await service.current(session), settings)


def _accepted(found: MaintenanceStatus | None, settings: Settings) -> JSONResponse:
    shown = found if found is not None else MaintenanceStatus(active=False)
    body = service.view(shown, settings, answer="accepted").model_dump(mode="json")
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)
