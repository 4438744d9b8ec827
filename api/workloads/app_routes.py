"""CloudCore contract: applications (`POST /api/kubeedge/apps/deploy`, `GET /apps`).

An app is a workload of source `apps`, named by `name` in its namespace, targeted at the
nodes of `device_ids`, with one Service per device on a port allocated per device and
kept across deploys. Deploying again with another image or config makes a new revision
and rolls it out; the same body again attaches to (or answers from) the same rollout.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError
from api.core.listing import LINK_HEADER, ListDep, list_response
from api.core.state import app_sessions
from api.workloads import service
from api.workloads.request_schemas import SERVICE_PORTS, DeployApp, config_env
from api.workloads.schemas import AppItem, AppList, AppService, rollout_view, service_url
from store import workloads
from store.models import Rollout, Workload
from store.settings import Settings
from workflows.contracts.workloads import (
    ResourceList,
    Resources,
    RolloutProgress,
    RolloutState,
    ServicePort,
    WorkloadSpec,
)

router = APIRouter(prefix="/api/kubeedge", tags=["apps"])

SOURCE = "apps"
# `wait: true` holds the request open this long at most (and never past
# EDGEWRIGHT_COMMAND_WAIT_MAX_SECONDS); a longer rollout answers 202.
DEFAULT_WAIT_SECONDS = 60.0


class Service(BaseModel):
    device_id: str
    port: int
    url: str


class Deployed(BaseModel):
    status: str = Field(description='"success"; "accepted" with 202 (`state` says how far)')
    deployment_name: str
    devices_deployed: int
    services_created: list[Service]
    # ours
    app_id: str
    revision: int
    deployment_id: str
    state: str = Field(description="The rollout's state")
    workflow_id: str
    temporal_ui_url: str
    status_url: str


def _spec(body: DeployApp, ports: dict[str, int]) -> WorkloadSpec:
    try:
        env = config_env(body.config)
    except ValueError as err:
        raise ApiError(400, str(err), details={"config": str(err)}) from err
    return WorkloadSpec(
        name=body.name,
        namespace=body.namespace,
        image=body.image,
        replicas=body.replicas,
        resources=Resources(
            requests=ResourceList(cpu=body.resources.cpu, memory=body.resources.memory)
        ),
        env=env,
        ports=[ServicePort(container_port=body.port, service_ports=ports)],
    )


def _wait_seconds(body: DeployApp, settings: Settings) -> float:
    if body.wait is True:
        wanted = DEFAULT_WAIT_SECONDS
    elif body.wait is False:
        wanted = 0.0
    else:
        wanted = float(body.wait)
    return min(wanted, settings.command_wait_max_seconds)


@router.post(
    "/apps/deploy",
    response_model=Deployed,
    responses={
        202: {"model": Deployed, "description": 'Rollout still running: status "accepted"'},
        409: {"description": "The app's service ports clash with another app's"},
        502: {"description": "The rollout ended failed or rolled back"},
    },
)
async def deploy_app(
    body: DeployApp,
    request: Request,
    user: OperatorUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Any:
    # Here, not as TemporalDep: a bad body is a 400 first; and before any write.
    client = require_temporal(temporal)
    sessions = app_sessions(request.app)
    launch: service.RolloutRequest | None = None
    async with sessions() as session, session.begin():
        nodes_by_device = await service.resolve_devices(session, device_ids=body.device_ids)
        nodes = list(nodes_by_device.values())
        row = await workloads.get_by_name(session, namespace=body.namespace, name=body.name)
        if row is not None and (row.source != SOURCE or row.status == workloads.DELETING):
            raise ApiError(
                409,
                f"{body.name} in {body.namespace} is "
                + ("being deleted" if row.status == workloads.DELETING else "a /api/v1 workload"),
                details={"name": body.name, "namespace": body.namespace},
            )
        workload_id = row.workload_id if row is not None else service.new_id()
        ports = await _ports(session, workload_id, row, nodes)
        spec = _spec(body, ports)
        rollout = await _reusable(session, row, spec, nodes)
        if rollout is None:
            rollout, launch = await _new_rollout(
                session,
                body=body,
                row=row,
                workload_id=workload_id,
                spec=spec,
                nodes=nodes,
                requested_by=user.username,
            )
        running = list(await workloads.running_rollouts(session, workload_id=workload_id))
    if launch is not None:
        await service.launch(
            client, settings=settings, sessions=sessions, request=launch, superseding=running
        )
    outcome = await _outcome(client, rollout, seconds=_wait_seconds(body, settings))
    return _answer(settings, body, rollout, outcome, nodes_by_device, ports)


async def _ports(
    session: AsyncSession, workload_id: str, row: Workload | None, nodes: list[str]
) -> dict[str, int]:
    first, last = SERVICE_PORTS
    try:
        return await workloads.allocate_service_ports(
            session,
            workload_id=workload_id,
            revision=row.revision if row is not None else 1,
            node_names=nodes,
            first_port=first,
            last_port=last,
        )
    except ValueError as err:
        raise ApiError(409, str(err), details={"service_ports": f"{first}-{last}"}) from err


async def _reusable(
    session: AsyncSession, row: Workload | None, spec: WorkloadSpec, nodes: list[str]
) -> Rollout | None:
    """The newest rollout when it already carries this exact request, running or done."""
    if row is None:
        return None
    current = await workloads.get_spec(session, workload_id=row.workload_id, revision=row.revision)
    latest = await workloads.latest_rollout(session, workload_id=row.workload_id)
    if current != spec or latest is None or latest.revision != row.revision:
        return None
    if sorted(latest.target_nodes) != sorted(nodes):
        return None
    state = RolloutState(latest.state)
    return latest if not state.final or state is RolloutState.COMPLETED else None


async def _new_rollout(
    session: AsyncSession,
    *,
    body: DeployApp,
    row: Workload | None,
    workload_id: str,
    spec: WorkloadSpec,
    nodes: list[str],
    requested_by: str,
) -> tuple[Rollout, service.RolloutRequest]:
    if row is None:
        row = await workloads.create_workload(
            session, workload_id=workload_id, spec=spec, source=SOURCE, created_by=requested_by
        )
        revision, status_before = 1, workloads.CREATED
    else:
        status_before = row.status
        current = await workloads.get_spec(session, workload_id=workload_id, revision=row.revision)
        revision = row.revision
        if current != spec:
            revision = await workloads.add_revision(session, workload=row, spec=spec)
    next_status = workloads.UPDATING if row.deployed_revision is not None else workloads.DEPLOYING
    rollout = await workloads.create_rollout(
        session,
        rollout_id=service.new_id(),
        workload_id=workload_id,
        revision=revision,
        strategy=body.strategy,
        target_nodes=nodes,
        requested_by=requested_by,
    )
    await workloads.set_status(
        session, workload_id=workload_id, status=next_status, target_nodes=nodes
    )
    return rollout, service.RolloutRequest(
        rollout_id=rollout.rollout_id,
        workload_id=workload_id,
        revision=revision,
        spec=spec,
        nodes=nodes,
        strategy=body.strategy,
        requested_by=requested_by,
        status_before=status_before,
    )


async def _outcome(client: Any, rollout: Rollout, *, seconds: float) -> RolloutProgress | None:
    if RolloutState(rollout.state).final:
        return RolloutProgress.model_validate(rollout.progress) if rollout.progress else None
    if seconds <= 0:
        return None
    return await service.outcome_within(client, rollout=rollout, seconds=seconds)


def _answer(
    settings: Settings,
    body: DeployApp,
    rollout: Rollout,
    outcome: RolloutProgress | None,
    nodes_by_device: dict[str, str],
    ports: dict[str, int],
) -> Any:
    state = outcome.state if outcome is not None else RolloutState(rollout.state)
    links = {
        "app_id": rollout.workload_id,
        "revision": rollout.revision,
        "deployment_id": rollout.rollout_id,
        "state": state.value,
        "status_url": f"/api/v1/workloads/{rollout.workload_id}/rollouts/{rollout.rollout_id}",
        **service.run_links(settings, rollout.workflow_id),
    }
    failures = outcome.failures if outcome is not None else {}
    services = [
        Service(device_id=device_id, port=ports[node], url=service_url(device_id, ports[node]))
        for device_id, node in nodes_by_device.items()
        if node not in failures
    ]
    if state is RolloutState.COMPLETED:
        return Deployed(
            status="success",
            deployment_name=body.name,
            devices_deployed=len(services),
            services_created=services,
            **links,
        )
    if state.final:
        why = "see the rollout's status_url and the Temporal UI"
        if outcome is not None:
            why = outcome.abort_reason or outcome.error or "devices did not report ready"
        rolled_back = outcome.rolled_back if outcome is not None else []
        raise ApiError(
            502,
            f"Deployment of {body.name} ended {state.value}: {why}",
            details={**links, "failures": failures, "rolled_back": rolled_back},
        )
    pending = Deployed(
        status="accepted",
        deployment_name=body.name,
        devices_deployed=outcome.nodes_ready if outcome is not None else 0,
        services_created=services,
        **links,
    )
    return JSONResponse(pending.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


@router.get("/apps", response_model=AppList, responses=LINK_HEADER)
async def list_apps(
    request: Request,
    _user: ViewerUser,
    session: SessionDep,
    settings: SettingsDep,
    window: ListDep,
) -> Response:
    rows, total = await workloads.list_workloads(
        session, offset=window.offset, limit=window.limit, source=SOURCE
    )
    ids = [row.workload_id for row in rows]
    nodes = await workloads.workload_nodes(session, workload_ids=ids)
    # What each run last recorded: one Temporal query per app would slow the list.
    latest = await workloads.latest_rollouts(session, workload_ids=ids)
    specs = await workloads.get_specs(session, keys=[(r.workload_id, r.revision) for r in rows])
    names = [node.node_name for rows_ in nodes.values() for node in rows_]
    devices = await workloads.node_devices(session, node_names=names)

    def render(row: Workload) -> AppItem:
        rollout = latest.get(row.workload_id)
        targets = set(row.target_nodes)
        return AppItem(
            name=row.name,
            image=specs[(row.workload_id, row.revision)].image,
            status=row.status,
            devices=[devices.get(name, name) for name in row.target_nodes],
            devices_deployed=len(workloads.runs_on(nodes[row.workload_id])),
            services=[
                AppService(
                    device_id=devices.get(node.node_name, node.node_name),
                    port=node.service_port,
                    url=service_url(devices.get(node.node_name, node.node_name), node.service_port),
                    node_name=node.node_name,
                    state=node.state,
                )
                for node in nodes[row.workload_id]
                if node.service_port is not None and node.node_name in targets
            ],
            id=row.workload_id,
            namespace=row.namespace,
            revision=row.revision,
            deployed_revision=row.deployed_revision,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deployment=None
            if rollout is None
            else rollout_view(settings, rollout, service.stored_progress(rollout)),
        )

    return list_response(
        request,
        key="apps",
        rows=rows,
        render=render,
        window=window,
        total=total,
        head={"status": "success"},
    )
