"""Answer shapes of `/api/v1/workloads` and `/api/kubeedge/apps`, built from the rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.core.links import temporal_ui_link
from api.core.listing import ListPagination
from api.core.pagination import Pagination
from store.models import Rollout, Workload, WorkloadNode
from store.settings import Settings
from workflows.contracts.workloads import RolloutProgress, WorkloadSpec


class RolloutView(BaseModel):
    deployment_id: str = Field(description="The rollout's id (a UUID)")
    revision: int
    state: str = Field(description="pending, running, paused, rolling_back, completed, ...")
    strategy: dict[str, Any]
    target_nodes: list[str] = Field(description="Node names; empty: chosen by placement")
    progress: RolloutProgress | None = Field(description="The run's progress, when it has one")
    error: str | None
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    workflow_id: str
    temporal_ui_url: str
    status_url: str


def rollout_view(settings: Settings, row: Rollout, progress: RolloutProgress | None) -> RolloutView:
    # The run's live state wins over the row's while the activities catch up, and its
    # reason with it: a finished state must never show without the error that ended it.
    state = progress.state.value if progress is not None else row.state
    error = (progress.error or progress.abort_reason or row.error) if progress else row.error
    return RolloutView(
        deployment_id=row.rollout_id,
        revision=row.revision,
        state=state,
        strategy=row.strategy,
        target_nodes=row.target_nodes,
        progress=progress,
        error=error,
        requested_by=row.requested_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        workflow_id=row.workflow_id,
        temporal_ui_url=temporal_ui_link(settings, row.workflow_id),
        status_url=f"/api/v1/workloads/{row.workload_id}/rollouts/{row.rollout_id}",
    )


class WorkloadSummary(BaseModel):
    id: str
    name: str
    namespace: str
    type: str = Field(description="deployment or statefulset")
    status: str = Field(
        description="created, deploying, running, updating, failed, rolled_back, deleting"
    )
    created_at: datetime
    # ours
    revision: int = Field(description="The newest revision (a PUT adds one)")
    deployed_revision: int | None = Field(description="What the last completed rollout left")
    source: str = Field(description="v1 (/api/v1/workloads) or apps (/api/kubeedge/apps)")
    updated_at: datetime


class WorkloadList(BaseModel):
    workloads: list[WorkloadSummary]
    pagination: Pagination


class NodePlacement(BaseModel):
    id: str | None = Field(description="The Edge API node id; null for a node not in inventory")
    name: str
    revision: int
    state: str = Field(description="pending, applied, ready, failed or rolled_back")
    service_port: int | None


class WorkloadDetail(WorkloadSummary):
    image: str
    replicas: int
    resources: dict[str, Any]
    placement: dict[str, Any]
    nodes: list[str] = Field(description="Ids of the nodes it runs on (names if not in inventory)")
    # ours
    env: dict[str, str]
    target_nodes: list[str] = Field(description="Node names of the last deploy; empty: placement")
    node_states: list[NodePlacement]
    rollout: RolloutView | None = Field(description="The newest rollout")


def summary(row: Workload) -> WorkloadSummary:
    return WorkloadSummary(
        id=row.workload_id,
        name=row.name,
        namespace=row.namespace,
        type=row.kind,
        status=row.status,
        created_at=row.created_at,
        revision=row.revision,
        deployed_revision=row.deployed_revision,
        source=row.source,
        updated_at=row.updated_at,
    )


def resources_of(spec: WorkloadSpec) -> dict[str, Any]:
    return spec.resources.model_dump(mode="json", exclude_none=True)


def detail(
    row: Workload,
    *,
    spec: WorkloadSpec,
    nodes: list[WorkloadNode],
    node_ids: dict[str, str],
    running_on: list[str],
    rollout: RolloutView | None,
) -> WorkloadDetail:
    return WorkloadDetail(
        **summary(row).model_dump(),
        image=spec.image,
        replicas=spec.replicas,
        resources=resources_of(spec),
        placement=spec.placement.model_dump(mode="json"),
        nodes=[node_ids.get(name, name) for name in running_on],
        env=dict(spec.env),
        target_nodes=row.target_nodes,
        node_states=[
            NodePlacement(
                id=node_ids.get(node.node_name),
                name=node.node_name,
                revision=node.revision,
                state=node.state,
                service_port=node.service_port,
            )
            for node in nodes
        ],
        rollout=rollout,
    )


# --- apps (CloudCore contract) ---------------------------------------------------------


class AppService(BaseModel):
    device_id: str
    port: int
    url: str
    # ours
    node_name: str
    state: str = Field(description="The app's state on the device: pending, ready, ...")


def service_url(device_id: str, port: int) -> str:
    """The device's Service, addressed by device id as the seed does (its edge hostname)."""
    return f"http://{device_id}:{port}"


class AppItem(BaseModel):
    name: str
    image: str
    status: str
    devices: list[str] = Field(description="device_ids the app is deployed to")
    devices_deployed: int = Field(description="Devices where it is applied or ready")
    services: list[AppService]
    # ours
    id: str
    namespace: str
    revision: int
    deployed_revision: int | None
    created_at: datetime
    updated_at: datetime
    deployment: RolloutView | None


class AppList(BaseModel):
    status: str = "success"
    count: int = Field(description="Apps in this answer; all of them is pagination.total")
    apps: list[AppItem]
    pagination: ListPagination
