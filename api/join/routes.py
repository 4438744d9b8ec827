"""CloudCore contract: device join (`POST /api/kubeedge/device/join`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError, RunStillRunning
from api.core.links import temporal_ui_link
from api.core.runs import query_progress, unavailable
from api.devices.capacity import check_capacity
from api.join.keadm import build_join_command
from api.join.schemas import JoinRequest, JoinResponse, JoinSteps, MqttAccess
from api.join.service import join_device, join_input
from store.runtime_config import load_runtime_config
from store.sealing import SealError, unseal
from store.settings import Settings
from workflows.contracts.common import ErrorType
from workflows.contracts.join import (
    JOIN_PROGRESS_QUERY,
    JoinProgress,
    JoinStatus,
    device_join_workflow_id,
)

router = APIRouter(prefix="/api/kubeedge", tags=["devices"])


def _join_command(progress: JoinProgress, settings: Settings) -> str | None:
    if progress.sealed_token is None or progress.cloudcore_host is None:
        return None
    try:
        token = unseal(settings, progress.sealed_token)
    except SealError as err:
        raise ApiError(500, "the join token cannot be unsealed with this secret key") from err
    return build_join_command(
        cloudcore_host=progress.cloudcore_host,
        cloudcore_port=progress.cloudcore_port or settings.cloudcore_port,
        node_name=progress.node_name,
        token=token,
        kubeedge_version=progress.kubeedge_version,
    )


def _mqtt_access(progress: JoinProgress, settings: Settings) -> MqttAccess | None:
    if progress.sealed_mqtt_password is None or progress.mqtt_username is None:
        return None
    try:
        password = unseal(settings, progress.sealed_mqtt_password)
    except SealError as err:
        raise ApiError(500, "the MQTT password cannot be unsealed with this secret key") from err
    return MqttAccess(
        host=settings.mqtt_device_host or settings.mqtt_host,
        port=settings.mqtt_port,
        username=progress.mqtt_username,
        password=password,
        client_id=progress.mqtt_username,
    )


def _answer(progress: JoinProgress, settings: Settings) -> JoinResponse:
    workflow_id = device_join_workflow_id(progress.device_id)
    usable = progress.status in (JoinStatus.WAITING_FOR_NODE, JoinStatus.JOINED)
    return JoinResponse(
        status="success" if usable else "accepted",
        node_name=progress.node_name,
        device_id=progress.device_id,
        configmap_created=progress.configmap_name,
        device_crd_created=progress.device_resource_name,
        join_command=_join_command(progress, settings) if usable else None,
        steps=JoinSteps(**progress.steps.model_dump()),
        join_status=progress.status,
        token_expires_at=progress.token_expires_at,
        mqtt=_mqtt_access(progress, settings) if usable else None,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
        status_url=join_status_path(progress.device_id),
    )


def join_status_path(device_id: str) -> str:
    return f"/api/kubeedge/device/{device_id}/join"


def _respond(progress: JoinProgress, settings: Settings) -> Any:
    """200 once provisioned, 202 (accepted) while provisioning, the failure's error after."""
    if progress.status in (JoinStatus.FAILED, JoinStatus.CANCELLED, JoinStatus.EXPIRED):
        raise _failure(progress, settings)
    answer = _answer(progress, settings)
    if progress.status == JoinStatus.PROVISIONING:
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return answer


def _not_answered(device_id: str, reason: str) -> ApiError:
    return ApiError(
        503,
        "Temporal could not answer for this join right now; retry shortly",
        details={"device_id": device_id, "reason": reason},
        headers={"Retry-After": "5"},
    )


# A join refused for what was asked is the caller's to fix; anything else is ours (503).
_FAILURE_STATUS: dict[str, int] = {ErrorType.CONFLICT: 409, ErrorType.INVALID: 400}


def _failure(progress: JoinProgress, settings: Settings) -> ApiError:
    failure = progress.failure
    workflow_id = device_join_workflow_id(progress.device_id)
    details: dict[str, Any] = {
        "workflow_id": workflow_id,
        "temporal_ui_url": temporal_ui_link(settings, workflow_id),
    }
    if failure is None:
        return ApiError(503, f"device join ended as {progress.status.value}", details=details)
    details |= {
        "failed_step": failure.step.value,
        "error_type": failure.error_type,
        "reason": failure.message,
        "compensated": [step.value for step in failure.compensated],
    }
    code = _FAILURE_STATUS.get(failure.error_type, 503)
    return ApiError(
        code, f"device join failed at {failure.step.value}: {failure.message}", details=details
    )


@router.post(
    "/device/join",
    response_model=JoinResponse,
    responses={
        202: {
            "model": JoinResponse,
            "description": 'Provisioning still running: status "accepted"; follow status_url',
        },
        409: {
            "description": "device_id joined with another request, its node held by another "
            "device, or the configured maximum of devices reached"
        },
    },
)
async def join(
    body: JoinRequest,
    _user: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Any:
    # The stored configuration (PUT /api/kubeedge/config), read per request: no restart.
    config = await load_runtime_config(session, settings=settings)
    await check_capacity(session, config=config, device_id=body.device_id)
    inp = join_input(body, settings, default_hours=config.token_expiry_hours)
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    try:
        progress = await join_device(
            client,
            inp=inp,
            task_queue=settings.task_queue,
            answer_timeout=settings.join_answer_timeout_seconds,
        )
    except RPCError as err:
        # Temporal could not answer (say, no worker to answer a query on a finished run).
        raise _not_answered(inp.device_id, err.message) from err
    except RunStillRunning as running:
        if running.progress is None:  # the run was not found when asked how it goes
            raise _not_answered(inp.device_id, "no run answered") from None
        progress = running.progress
    return _respond(progress, settings)


@router.get(
    "/device/{device_id}/join",
    response_model=JoinResponse,
    responses={
        202: {"model": JoinResponse, "description": 'Still provisioning: status "accepted"'},
        404: {"description": "No join of this device"},
        409: {"description": "The join failed on a conflict (the failure's own answer)"},
    },
)
async def join_status(
    device_id: Annotated[str, Path(max_length=63, description="The joined device's device_id")],
    _user: ViewerUser,
    settings: SettingsDep,
    client: TemporalDep,
) -> Any:
    """What the join POST would answer now, without starting anything."""
    try:
        progress = await query_progress(
            client,
            device_join_workflow_id(device_id),
            query=JOIN_PROGRESS_QUERY,
            result_type=JoinProgress,
        )
    except RPCError as err:
        raise unavailable(err) from err
    if progress is None:
        raise ApiError(404, f"No join of device {device_id}", details={"device_id": device_id})
    return _respond(progress, settings)
