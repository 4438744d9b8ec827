"""CloudCore contract: `POST /cloudcore/deploy`, its runs, and `GET /cloudcore/status`.

A deploy runs CloudCoreDeployWorkflow (create or update, wait for the rollout, roll back
on failure); the POST answers within the answer timeout, with the run's status URL
(`GET /cloudcore/deploy/runs/{run_id}`). The status is what the worker last read (every
health report, after a deploy and every node sync round), never a live call to Kubernetes.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from api.cloudcore.schemas import (
    CloudCoreStatus,
    DeployAnswer,
    DeployRequest,
    Pod,
    Service,
)
from api.cloudcore.service import DeployFailed, DeployOutcome, deploy_cloudcore, deploy_run
from api.core.deps import (
    AdminUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.envelopes import CloudCoreError
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
    CloudCoreSpec,
    CloudCoreTarget,
    DeployStatus,
    cloudcore_deploy_workflow_id,
)

router = APIRouter(prefix="/api/kubeedge", tags=["cloudcore"])
RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ANSWERS = {
    WorkflowExecutionStatus.RUNNING: "in_progress",
    WorkflowExecutionStatus.COMPLETED: "success",
}


def _answer(
    settings: Settings,
    *,
    run_id: str,
    requested_version: str,
    progress: CloudCoreDeployProgress | None,
    answer: str,
) -> DeployAnswer:
    namespace = settings.kubeedge_namespace
    workflow_id = cloudcore_deploy_workflow_id(namespace)
    run = {
        "run_id": run_id,
        "status_url": f"/api/kubeedge/cloudcore/deploy/runs/{run_id}",
        "workflow_id": workflow_id,
        "temporal_ui_url": temporal_ui_link(settings, workflow_id),
    }
    if progress is None:  # the run did not say in time: only what the request knows
        return DeployAnswer(
            status=answer,
            message="the deploy is running; follow status_url",
            deployment_name="cloudcore",
            namespace=namespace,
            created_at=None,
            version=requested_version.removeprefix("v"),
            deploy_status=None,
            rollout=None,
            **run,
        )
    return DeployAnswer(
        status=answer,
        message=progress.message,
        deployment_name=progress.deployment_name,
        namespace=namespace,
        created_at=progress.started_at,
        version=progress.version,
        deploy_status=progress.status,
        rollout=progress.rollout,
        **run,
    )


@router.post(
    "/cloudcore/deploy",
    response_model=DeployAnswer,
    responses={
        202: {
            "model": DeployAnswer,
            "description": "Still rolling out after the answer timeout; follow status_url "
            "(the same body again attaches to the run)",
        },
        409: {"model": CloudCoreError, "description": "Another deploy is running"},
        503: {
            "model": CloudCoreError,
            "description": "The deploy failed (details.rolled_back), or Temporal is unavailable",
        },
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
        outcome: DeployOutcome = await deploy_cloudcore(
            client,
            inp=inp,
            task_queue=settings.task_queue,
            answer_timeout=settings.cloudcore_answer_timeout_seconds,
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
    answer = _answer(
        settings,
        run_id=outcome.run_id,
        requested_version=body.version,
        progress=outcome.progress,
        answer="success" if outcome.finished else "accepted",
    )
    if not outcome.finished:
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return answer


@router.get(
    "/cloudcore/deploy/runs/{run_id}",
    response_model=DeployAnswer,
    responses={
        400: {"model": CloudCoreError, "description": "Not a run ID"},
        404: {"model": CloudCoreError, "description": "No such deploy run"},
        503: {
            "model": CloudCoreError,
            "description": "Temporal or the worker did not answer within the answer timeout",
        },
    },
)
async def deploy_run_status(
    run_id: str, _user: ViewerUser, settings: SettingsDep, temporal: OptionalTemporalDep
) -> DeployAnswer:
    """How one deploy run goes or went: `status` in_progress, success or failed."""
    if not RUN_ID.fullmatch(run_id):
        raise ApiError(
            400, "run_id must be a run ID as a deploy answered it", details={"run_id": "invalid"}
        )
    client = require_temporal(temporal)  # after the check: a bad ID is a 400 first
    try:
        # A running run's progress is a query the worker answers: bounded like the POST.
        async with asyncio.timeout(settings.cloudcore_answer_timeout_seconds):
            state, progress = await deploy_run(
                client, namespace=settings.kubeedge_namespace, run_id=run_id
            )
    except RPCError as err:
        raise unavailable(err) from err
    except TimeoutError:
        raise ApiError(
            503, "The worker did not answer in time; retry shortly", headers={"Retry-After": "5"}
        ) from None
    if state is None:
        raise ApiError(404, f"No CloudCore deploy run {run_id}", details={"run_id": run_id})
    return _answer(
        settings,
        run_id=run_id,
        requested_version=progress.version if progress else "",
        progress=progress,
        answer=_ANSWERS.get(state, "failed"),
    )


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
        available_replicas=snapshot.get("available_replicas"),
        observed_at=row.observed_at,
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
