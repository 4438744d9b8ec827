"""CloudCore contract: `POST /cloudcore/deploy` and `GET /cloudcore/status`.

A deploy runs CloudCoreDeployWorkflow (create or update, wait for the rollout, roll back
on failure). The status is what the worker last read (after a deploy and every node
sync round), never a live call to Kubernetes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.cloudcore.service import DeployFailed, deploy_cloudcore
from api.core.deps import (
    AdminUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError
from api.core.humanize import age
from api.core.links import temporal_ui_link
from api.core.runs import request_fingerprint, unavailable
from store import cloudcore as observed
from store.models import utcnow
from store.settings import Settings
from workflows.contracts.cloudcore import (
    CloudCoreDeployInput,
    CloudCoreDeployProgress,
    CloudCoreResources,
    CloudCoreRolloutState,
    CloudCoreSpec,
    CloudCoreTarget,
    DeployStatus,
    KubeEdgeVersion,
    cloudcore_deploy_workflow_id,
)

router = APIRouter(prefix="/api/kubeedge", tags=["cloudcore"])


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: KubeEdgeVersion = Field(examples=["1.18.0"])
    replicas: int = Field(default=1, ge=1, le=10)
    resources: CloudCoreResources = Field(
        default_factory=CloudCoreResources,
        description="Requests and limits of the cloudcore container (cpu, memory)",
    )


STATUS_PATH = "/api/kubeedge/cloudcore/status"


class DeployAnswer(BaseModel):
    status: str = Field(description='"success", or "accepted" with 202 (still rolling out)')
    message: str
    deployment_name: str
    namespace: str
    created_at: datetime | None
    # ours
    version: str
    deploy_status: DeployStatus
    rollout: CloudCoreRolloutState | None
    workflow_id: str
    temporal_ui_url: str
    status_url: str = STATUS_PATH


class Pod(BaseModel):
    name: str | None
    status: str | None
    ready: str
    restarts: int
    age: str | None


class ServicePort(BaseModel):
    name: str | None
    port: int | None
    nodePort: int | None  # camelCase: the document's field name
    protocol: str = "TCP"


class Service(BaseModel):
    name: str | None
    type: str
    ports: list[ServicePort]


class CloudCoreStatus(BaseModel):
    status: str = Field(description="running, degraded, pending, not_deployed or unknown")
    version: str | None
    pods: list[Pod]
    services: list[Service]
    # ours
    replicas: int | None = None
    ready_replicas: int | None = None
    observed_at: datetime | None = Field(description="When the worker last read CloudCore")


def _answer(progress: CloudCoreDeployProgress, settings: Settings, *, done: bool) -> DeployAnswer:
    workflow_id = cloudcore_deploy_workflow_id(progress.namespace)
    return DeployAnswer(
        status="success" if done else "accepted",
        message=progress.message,
        deployment_name=progress.deployment_name,
        namespace=progress.namespace,
        created_at=progress.started_at,
        version=progress.version,
        deploy_status=progress.status,
        rollout=progress.rollout,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
    )


@router.post(
    "/cloudcore/deploy",
    response_model=DeployAnswer,
    responses={
        202: {
            "model": DeployAnswer,
            "description": 'Still rolling out: status "accepted"; the same request attaches to '
            "the run, status_url shows CloudCore",
        }
    },
)
async def deploy(
    body: DeployRequest, _user: AdminUser, settings: SettingsDep, temporal: OptionalTemporalDep
) -> Any:
    target = CloudCoreTarget(
        namespace=settings.kubeedge_namespace, image_repository=settings.cloudcore_image
    )
    inp = CloudCoreDeployInput(
        target=target,
        spec=CloudCoreSpec(version=body.version, replicas=body.replicas, resources=body.resources),
        fingerprint=request_fingerprint(body.model_dump(mode="json")),
        rollout_timeout_seconds=settings.cloudcore_rollout_timeout_seconds,
    )
    workflow_id = cloudcore_deploy_workflow_id(target.namespace)
    run = {"workflow_id": workflow_id, "temporal_ui_url": temporal_ui_link(settings, workflow_id)}
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    try:
        progress, done = await deploy_cloudcore(
            client,
            inp=inp,
            task_queue=settings.task_queue,
            answer_timeout=settings.join_answer_timeout_seconds,
            details=run,
        )
    except RPCError as err:
        raise unavailable(err) from err
    except DeployFailed as failed:
        rolled_back = failed.progress is not None and (
            failed.progress.status == DeployStatus.ROLLED_BACK
        )
        details = {**run, "rolled_back": rolled_back}
        if failed.progress is not None:
            details["deploy_status"] = failed.progress.status.value
        raise ApiError(503, f"CloudCore deploy failed: {failed}", details=details) from failed
    answer = _answer(progress, settings, done=done)
    if not done:
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return answer


@router.get("/cloudcore/status", response_model=CloudCoreStatus)
async def cloudcore_status(_user: ViewerUser, session: SessionDep) -> CloudCoreStatus:
    row = await observed.load_observed(session, key=observed.CLOUDCORE)
    if row is None:
        return CloudCoreStatus(
            status="unknown", version=None, pods=[], services=[], observed_at=None
        )
    snapshot, now = row.value, utcnow()
    pods = [
        Pod(
            name=pod.get("name"),
            status=pod.get("status"),
            ready=str(pod.get("ready") or "0/0"),
            restarts=int(pod.get("restarts") or 0),
            age=age(_timestamp(pod.get("created_at")), now=now),
        )
        for pod in snapshot.get("pods") or []
    ]
    return CloudCoreStatus(
        status=str(snapshot.get("status") or "unknown"),
        version=snapshot.get("version"),
        pods=pods,
        services=[Service.model_validate(s) for s in snapshot.get("services") or []],
        replicas=snapshot.get("replicas"),
        ready_replicas=snapshot.get("ready_replicas"),
        observed_at=row.observed_at,
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
