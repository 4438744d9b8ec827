"""Edge API contract: workloads (`/api/v1/workloads`).

A workload is a definition with numbered revisions; deploying it runs
WorkloadRolloutWorkflow (`rollout/{workload_id}/{revision}`), which moves the target
nodes to that revision in waves and rolls back on failure. Viewers read; operators
create, update, deploy, steer and delete. Only users and API keys get here: a node's
security token is not a user and is refused (401).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError
from api.core.pagination import PageDep, pagination
from api.core.state import app_sessions
from api.workloads import service
from api.workloads.request_schemas import CreateWorkload, DeployWorkload, UpdateWorkload
from api.workloads.schemas import (
    RolloutView,
    WorkloadDetail,
    WorkloadList,
    detail,
    rollout_view,
    summary,
)
from store import workloads
from store.models import Rollout, Workload
from workflows.contracts.workloads import (
    RolloutState,
    RolloutStrategy,
    WorkloadRemovalInput,
    workload_removal_workflow_id,
)

router = APIRouter(prefix="/api/v1", tags=["workloads"])

WorkloadIdPath = Annotated[str, Path(max_length=36, description="The workload's id")]
RolloutIdPath = Annotated[str, Path(max_length=36, description="The deployment_id")]


class Created(BaseModel):
    id: str
    name: str
    namespace: str
    status: str
    created_at: Any
    # ours
    type: str
    revision: int


class Updated(BaseModel):
    id: str
    name: str
    status: str
    updated_at: Any
    # ours
    revision: int
    changed: bool = Field(description="false: the body matched the newest revision")
    deployment_id: str | None = Field(description="The rollout this update started, if any")
    workflow_id: str | None = None
    temporal_ui_url: str | None = None


class Deploying(BaseModel):
    id: str
    name: str
    status: str
    deployment_id: str
    target_nodes: list[str] = Field(description="Node ids (names if not in inventory)")
    started_at: Any
    # ours
    revision: int
    strategy: RolloutStrategy
    workflow_id: str
    temporal_ui_url: str
    status_url: str


class Removed(BaseModel):
    success: bool = Field(description="true once removed; false with 202 (still removing)")
    message: str
    # ours
    status: str = Field(description='"success", or "accepted" with 202')
    objects_deleted: list[str]
    rollouts_stopped: list[str]
    workflow_id: str
    temporal_ui_url: str
    status_url: str = Field(description="The workload: `deleting` there, then a 404")


async def _workload(session: AsyncSession, workload_id: str) -> Workload:
    row = await workloads.get_workload(session, workload_id=workload_id)
    if row is None:
        raise ApiError(404, f"No workload {workload_id}", details={"workload_id": workload_id})
    return row


def _name_taken(namespace: str, name: str) -> ApiError:
    return ApiError(
        409,
        f"A workload named {name} exists in namespace {namespace}",
        details={"name": name, "namespace": namespace},
    )


def _not_deleting(row: Workload) -> None:
    if row.status == workloads.DELETING:
        raise ApiError(
            409,
            f"Workload {row.workload_id} is being deleted",
            details={"workload_id": row.workload_id},
        )


@router.post(
    "/workloads",
    response_model=Created,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "A workload of that name exists in the namespace"}},
)
async def create_workload(body: CreateWorkload, user: OperatorUser, session: SessionDep) -> Created:
    spec = body.spec()
    if await workloads.get_by_name(session, namespace=spec.namespace, name=spec.name):
        raise _name_taken(spec.namespace, spec.name)
    try:
        row = await workloads.create_workload(
            session, workload_id=service.new_id(), spec=spec, source="v1", created_by=user.username
        )
    except IntegrityError as err:  # a concurrent create of the same name won
        raise _name_taken(spec.namespace, spec.name) from err
    return Created(
        id=row.workload_id,
        name=row.name,
        namespace=row.namespace,
        status=row.status,
        created_at=row.created_at,
        type=row.kind,
        revision=row.revision,
    )


@router.get("/workloads", response_model=WorkloadList)
async def list_workloads(_user: ViewerUser, session: SessionDep, page: PageDep) -> WorkloadList:
    rows, total = await workloads.list_workloads(session, offset=page.offset, limit=page.limit)
    return WorkloadList(
        workloads=[summary(row) for row in rows], pagination=pagination(page, total=total)
    )


@router.get("/workloads/{workload_id}", response_model=WorkloadDetail)
async def get_workload(
    workload_id: WorkloadIdPath,
    _user: ViewerUser,
    session: SessionDep,
    settings: SettingsDep,
    client: OptionalTemporalDep,
) -> WorkloadDetail:
    row = await _workload(session, workload_id)
    spec = await workloads.get_spec(session, workload_id=workload_id, revision=row.revision)
    nodes = (await workloads.workload_nodes(session, workload_ids=[workload_id]))[workload_id]
    names = [node.node_name for node in nodes]
    latest = await workloads.latest_rollout(session, workload_id=workload_id)
    view = None
    if latest is not None:
        progress = await service.progress_of(client, latest)
        view = rollout_view(settings, latest, progress)
    return detail(
        row,
        spec=spec,
        nodes=nodes,
        node_ids=await workloads.node_ids(session, node_names=names),
        running_on=workloads.runs_on(nodes),
        rollout=view,
    )


@router.put(
    "/workloads/{workload_id}",
    response_model=Updated,
    responses={409: {"description": "The workload is being deleted"}},
)
async def update_workload(
    workload_id: WorkloadIdPath,
    body: UpdateWorkload,
    request: Request,
    user: OperatorUser,
    settings: SettingsDep,
    client: OptionalTemporalDep,  # needed only when the change rolls out
) -> Updated:
    sessions = app_sessions(request.app)
    launch: service.RolloutRequest | None = None
    # Its own transaction, committed before the run starts: the worker reads these rows.
    async with sessions() as session, session.begin():
        row = await _workload(session, workload_id)
        _not_deleting(row)
        current = await workloads.get_spec(session, workload_id=workload_id, revision=row.revision)
        try:
            spec = body.apply_to(current)
        except ValueError as err:
            raise ApiError(
                400,
                f"{err} cannot change; delete the workload and create it again",
                details={str(err): "cannot change"},
            ) from err
        if spec == current:
            return _updated(row, changed=False, rollout=None, settings=settings)
        latest = await workloads.latest_rollout(session, workload_id=workload_id)
        if latest is not None and client is None:  # checked before anything is written
            raise ApiError(
                503, "Temporal is not reachable yet; retry shortly", headers={"Retry-After": "5"}
            )
        revision = await workloads.add_revision(session, workload=row, spec=spec)
        running = list(await workloads.running_rollouts(session, workload_id=workload_id))
        rollout = None
        if latest is not None:
            status_before = row.status
            rollout = await workloads.create_rollout(
                session,
                rollout_id=service.new_id(),
                workload_id=workload_id,
                revision=revision,
                strategy=RolloutStrategy.model_validate(latest.strategy),
                target_nodes=row.target_nodes,
                requested_by=user.username,
            )
            await workloads.set_status(session, workload_id=workload_id, status=workloads.UPDATING)
            row.status = workloads.UPDATING
            launch = _request(rollout, spec, status_before)
    if launch is not None and client is not None:
        await service.launch(
            client, settings=settings, sessions=sessions, request=launch, superseding=running
        )
    return _updated(row, changed=True, rollout=rollout, settings=settings)


def _request(rollout: Rollout, spec: Any, status_before: str) -> service.RolloutRequest:
    return service.RolloutRequest(
        rollout_id=rollout.rollout_id,
        workload_id=rollout.workload_id,
        revision=rollout.revision,
        spec=spec,
        nodes=list(rollout.target_nodes),
        strategy=RolloutStrategy.model_validate(rollout.strategy),
        requested_by=rollout.requested_by,
        status_before=status_before,
    )


def _updated(
    row: Workload, *, changed: bool, rollout: Rollout | None, settings: SettingsDep
) -> Updated:
    links = service.run_links(settings, rollout.workflow_id) if rollout is not None else {}
    return Updated(
        id=row.workload_id,
        name=row.name,
        status=row.status,
        updated_at=row.updated_at,
        revision=row.revision,
        changed=changed,
        deployment_id=rollout.rollout_id if rollout is not None else None,
        **links,
    )


@router.post(
    "/workloads/{workload_id}/deploy",
    response_model=Deploying,
    responses={
        409: {"description": "Being deleted, or this revision is already rolling out"},
        502: {"description": "The rollout's run failed"},
    },
)
async def deploy_workload(
    workload_id: WorkloadIdPath,
    request: Request,
    user: OperatorUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
    body: DeployWorkload | None = None,  # no body: every node the placement admits
) -> Deploying:
    body = body or DeployWorkload()
    sessions = app_sessions(request.app)
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    async with sessions() as session, session.begin():
        row = await _workload(session, workload_id)
        _not_deleting(row)
        nodes = await service.resolve_nodes(session, refs=body.nodes)
        spec = await workloads.get_spec(session, workload_id=workload_id, revision=row.revision)
        running = list(await workloads.running_rollouts(session, workload_id=workload_id))
        same = [r for r in running if r.revision == row.revision]
        for stale in [r for r in same if not await service.still_running(client, r)]:
            await workloads.fail_rollout(
                session, rollout_id=stale.rollout_id, error="its run is no longer running"
            )
            same.remove(stale)
            running.remove(stale)
        if same:
            raise ApiError(
                409,
                f"Revision {row.revision} is already being rolled out "
                f"(deployment {same[0].rollout_id}); pause, abort or wait for it",
                details={"deployment_id": same[0].rollout_id, "revision": row.revision},
            )
        status_before = row.status
        rollout = await workloads.create_rollout(
            session,
            rollout_id=service.new_id(),
            workload_id=workload_id,
            revision=row.revision,
            strategy=body.strategy,
            target_nodes=nodes,
            requested_by=user.username,
        )
        await workloads.set_status(
            session, workload_id=workload_id, status=workloads.DEPLOYING, target_nodes=nodes
        )
        ids = await workloads.node_ids(session, node_names=nodes)
    await service.launch(
        client,
        settings=settings,
        sessions=sessions,
        request=_request(rollout, spec, status_before),
        superseding=running,
    )
    return Deploying(
        id=row.workload_id,
        name=row.name,
        status=workloads.DEPLOYING,
        deployment_id=rollout.rollout_id,
        target_nodes=[ids.get(name, name) for name in nodes],
        started_at=rollout.started_at,
        revision=rollout.revision,
        strategy=body.strategy,
        status_url=f"/api/v1/workloads/{workload_id}/rollouts/{rollout.rollout_id}",
        **service.run_links(settings, rollout.workflow_id),
    )


@router.get("/workloads/{workload_id}/rollouts/{deployment_id}", response_model=RolloutView)
async def get_rollout(
    workload_id: WorkloadIdPath,
    deployment_id: RolloutIdPath,
    _user: ViewerUser,
    session: SessionDep,
    settings: SettingsDep,
    client: OptionalTemporalDep,
) -> RolloutView:
    row = await _rollout(session, workload_id, deployment_id)
    progress = await service.progress_of(client, row)
    return rollout_view(settings, row, progress)


async def _rollout(session: AsyncSession, workload_id: str, deployment_id: str) -> Rollout:
    row = await workloads.get_rollout(session, workload_id=workload_id, rollout_id=deployment_id)
    if row is None:
        raise ApiError(
            404,
            f"No deployment {deployment_id} of workload {workload_id}",
            details={"workload_id": workload_id, "deployment_id": deployment_id},
        )
    return row


@router.post(
    "/workloads/{workload_id}/rollouts/{deployment_id}/{action}",
    response_model=RolloutView,
    responses={409: {"description": "Only a running rollout can be steered"}},
)
async def steer_rollout(
    workload_id: WorkloadIdPath,
    deployment_id: RolloutIdPath,
    action: Annotated[str, Path(pattern="^(pause|resume|abort)$")],
    _user: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> RolloutView:
    row = await _rollout(session, workload_id, deployment_id)
    progress = await service.progress_of(client, row)
    state = progress.state if progress is not None else RolloutState(row.state)
    reason = "aborted on request" if action == "abort" else None
    sent = not state.final and await service.signal(client, row, service.STEERING[action], reason)
    if not sent:
        raise ApiError(
            409,
            f"Deployment {deployment_id} is {state.value}; only a running one can be steered",
            details={"deployment_id": deployment_id, "state": state.value},
        )
    return rollout_view(settings, row, await service.progress_of(client, row))


@router.delete(
    "/workloads/{workload_id}",
    response_model=Removed,
    responses={
        202: {
            "model": Removed,
            "description": 'Removal still running: status "accepted", success false; the '
            "same DELETE attaches to it",
        }
    },
)
async def delete_workload(
    workload_id: WorkloadIdPath,
    request: Request,
    user: OperatorUser,  # before TemporalDep: a wrong caller is 403 even then
    settings: SettingsDep,
    client: TemporalDep,
) -> Any:
    sessions = app_sessions(request.app)
    async with sessions() as session, session.begin():
        row = await _workload(session, workload_id)
        await workloads.set_status(session, workload_id=workload_id, status=workloads.DELETING)
    inp = WorkloadRemovalInput(
        workload_id=workload_id, namespace=row.namespace, requested_by=user.username
    )
    # The status stays `deleting` until the run has removed the rows: a failed or
    # unanswered removal is finished by repeating the DELETE, which attaches to the run.
    result = await service.remove(
        client, settings=settings, inp=inp, answer_timeout=settings.join_answer_timeout_seconds
    )
    links = {
        **service.run_links(settings, workload_removal_workflow_id(workload_id)),
        "status_url": f"/api/v1/workloads/{workload_id}",
    }
    if result is None:
        answer = Removed(
            success=False,
            message="Workload removal is still running",
            status="accepted",
            objects_deleted=[],
            rollouts_stopped=[],
            **links,
        )
        return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return Removed(
        success=True,
        message="Workload successfully removed",
        status="success",
        objects_deleted=result.objects_deleted,
        rollouts_stopped=result.rollouts_stopped,
        **links,
    )
