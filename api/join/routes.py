"""CloudCore contract: device join (`POST /api/kubeedge/device/join`)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.core.deps import OperatorUser, SessionDep, SettingsDep, TemporalDep
from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.devices.capacity import check_capacity
from api.join.keadm import build_join_command, is_valid_host
from api.join.service import JoinConflict, JoinStillRunning, join_device
from store.runtime_config import load_runtime_config
from store.sealing import SealError, unseal
from store.settings import Settings
from workflows.contracts.common import ConfigScalar, DeviceId, ErrorType, NodeName, ShortText
from workflows.contracts.join import (
    DeviceJoinInput,
    JoinProgress,
    JoinStatus,
    device_join_workflow_id,
)

router = APIRouter(prefix="/api/kubeedge", tags=["devices"])


def _host(value: str) -> str:
    if not is_valid_host(value):
        raise ValueError("must be an IP address or a DNS name")
    return value


def _configuration(value: dict[str, ConfigScalar]) -> dict[str, ConfigScalar]:
    if len(value) > 64:
        raise ValueError("at most 64 configuration keys")
    for key, item in value.items():
        if not 0 < len(key) <= 128:
            raise ValueError("keys must be 1-128 characters")
        if isinstance(item, str) and len(item) > 1024:
            raise ValueError(f"value of {key!r} is longer than 1024 characters")
    return value


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_name: NodeName
    device_id: DeviceId
    cloud_ip: Annotated[str, AfterValidator(_host)] | None = Field(
        default=None, description="CloudCore address the device connects to; default from config"
    )
    device_type: ShortText | None = None
    location: ShortText | None = None
    configuration: Annotated[dict[str, ConfigScalar], AfterValidator(_configuration)] = Field(
        default_factory=dict
    )
    token_expiry_hours: float | None = Field(default=None, gt=0, le=24 * 30)


class JoinSteps(BaseModel):
    token_generated: bool
    configmap_created: bool
    device_crd_created: bool
    rbac_configured: bool
    inventory_recorded: bool
    notified: bool


class MqttAccess(BaseModel):
    """The device's own MQTT account (also in the Secret `edgecore-mqtt-{node_name}`)."""

    host: str
    port: int
    username: str
    password: str
    client_id: str = Field(description="the account works with this MQTT client ID only")


class JoinResponse(BaseModel):
    status: str = "success"
    node_name: str
    device_id: str
    configmap_created: str | None
    device_crd_created: str | None
    join_command: str | None
    steps: JoinSteps
    join_status: JoinStatus
    token_expires_at: datetime | None
    mqtt: MqttAccess | None = Field(
        default=None, description="null for joins started before devices had MQTT accounts"
    )
    workflow_id: str
    temporal_ui_url: str


def _fingerprint(body: JoinRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _workflow_input(
    body: JoinRequest, settings: Settings, *, default_hours: float
) -> DeviceJoinInput:
    host = body.cloud_ip or settings.cloudcore_address
    if host is None:
        raise ApiError(
            400,
            "cloud_ip is required: no default CloudCore address is configured",
            details={"cloud_ip": "required (or set EDGEWRIGHT_CLOUDCORE_ADDRESS)"},
        )
    hours = body.token_expiry_hours or default_hours
    return DeviceJoinInput(
        device_id=body.device_id,
        node_name=body.node_name,
        cloudcore_host=host,
        cloudcore_port=settings.cloudcore_port,
        device_type=body.device_type,
        location=body.location,
        configuration=body.configuration,
        token_ttl_seconds=max(1, round(hours * 3600)),
        kubeedge_version=settings.kubeedge_version,
        kubeedge_namespace=settings.kubeedge_namespace,
        device_namespace=settings.device_namespace,
        fingerprint=_fingerprint(body),
    )


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
    responses={202: {"description": "Provisioning still running; poll the workflow"}},
)
async def join(
    body: JoinRequest,
    _user: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> Any:
    # The stored configuration (PUT /api/kubeedge/config), read per request: no restart.
    config = await load_runtime_config(session, settings=settings)
    await check_capacity(session, config=config, device_id=body.device_id)
    inp = _workflow_input(body, settings, default_hours=config.token_expiry_hours)
    try:
        progress = await join_device(
            client,
            inp=inp,
            task_queue=settings.task_queue,
            answer_timeout=settings.join_answer_timeout_seconds,
        )
    except RPCError as err:
        # Temporal could not answer (say, no worker to answer a query on a finished run).
        raise ApiError(
            503,
            "Temporal could not answer for this join right now; retry shortly",
            details={"device_id": inp.device_id, "reason": err.message},
            headers={"Retry-After": "5"},
        ) from err
    except JoinConflict as err:
        workflow_id = device_join_workflow_id(inp.device_id)
        raise ApiError(
            409,
            str(err),
            details={"device_id": inp.device_id, "workflow_id": workflow_id},
        ) from err
    except JoinStillRunning as running:
        answer = _answer(running.progress, settings)
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    if progress.status in (JoinStatus.FAILED, JoinStatus.CANCELLED, JoinStatus.EXPIRED):
        raise _failure(progress, settings)
    return _answer(progress, settings)
