"""The Edge Computing Framework API (`/api/v1`): nodes, workloads, rollouts, metrics,
security tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from .._states import ROLLOUT_FINAL
from ..models import (
    ApiDevicesNodeRoutesRemoved,
    ApiDevicesNodeTokenRoutesRevoked,
    ApiWorkloadsRoutesRemoved,
    Created,
    CreateWorkload,
    Deploying,
    DeployWorkload,
    EdgeHealth,
    FleetMetrics,
    Issued,
    MetricsReport,
    NodeDetail,
    NodeList,
    NodeMetrics,
    NodeSummary,
    Recorded,
    Registered,
    RegisterRequest,
    RolloutView,
    StatusReport,
    Updated,
    UpdateWorkload,
    Validation,
    WorkloadDetail,
    WorkloadList,
    WorkloadSummary,
)
from .base import AsyncBase, body_of

V1 = "/api/v1"


class AsyncEdgeAPI(AsyncBase):
    async def health(self) -> EdgeHealth:
        return await self._t.send("GET", f"{V1}/health", EdgeHealth)

    async def register_node(
        self, name: str, *, body: RegisterRequest | None = None, **fields: Any
    ) -> Registered:
        data = body_of(body, {"name": name, **fields})
        return await self._t.send("POST", f"{V1}/nodes", Registered, json=data)

    async def iter_nodes(self) -> AsyncIterator[NodeSummary]:
        async for item in self._pages(f"{V1}/nodes", NodeList, "nodes"):
            yield item

    async def list_nodes(self) -> list[NodeSummary]:
        return [item async for item in self.iter_nodes()]

    async def get_node(self, node_id: str) -> NodeDetail:
        return await self._t.send("GET", f"{V1}/nodes/{node_id}", NodeDetail)

    async def delete_node(self, node_id: str) -> ApiDevicesNodeRoutesRemoved:
        return await self._t.send("DELETE", f"{V1}/nodes/{node_id}", ApiDevicesNodeRoutesRemoved)

    async def report_node_status(
        self, node_id: str, *, body: StatusReport | None = None, **fields: Any
    ) -> NodeSummary:
        data = body_of(body, fields)
        return await self._t.send("PUT", f"{V1}/nodes/{node_id}/status", NodeSummary, json=data)

    async def record_metrics(
        self, node_id: str, *, body: MetricsReport | None = None, **fields: Any
    ) -> Recorded:
        data = body_of(body, fields)
        return await self._t.send("POST", f"{V1}/metrics/nodes/{node_id}", Recorded, json=data)

    async def node_metrics(
        self, node_id: str, *, timeframe: str | None = None, resolution: str | None = None
    ) -> NodeMetrics:
        params = {"timeframe": timeframe, "resolution": resolution}
        return await self._t.send(
            "GET", f"{V1}/metrics/nodes/{node_id}", NodeMetrics, params=params
        )

    async def fleet_metrics(
        self, *, timeframe: str | None = None, resolution: str | None = None
    ) -> FleetMetrics:
        params = {"timeframe": timeframe, "resolution": resolution}
        return await self._t.send("GET", f"{V1}/metrics", FleetMetrics, params=params)

    async def create_workload(
        self, name: str, image: str, *, body: CreateWorkload | None = None, **fields: Any
    ) -> Created:
        data = body_of(body, {"name": name, "image": image, **fields})
        return await self._t.send("POST", f"{V1}/workloads", Created, json=data)

    async def iter_workloads(self) -> AsyncIterator[WorkloadSummary]:
        async for item in self._pages(f"{V1}/workloads", WorkloadList, "workloads"):
            yield item

    async def list_workloads(self) -> list[WorkloadSummary]:
        return [item async for item in self.iter_workloads()]

    async def get_workload(self, workload_id: str) -> WorkloadDetail:
        return await self._t.send("GET", f"{V1}/workloads/{workload_id}", WorkloadDetail)

    async def update_workload(
        self, workload_id: str, *, body: UpdateWorkload | None = None, **fields: Any
    ) -> Updated:
        data = body_of(body, fields)
        return await self._t.send("PUT", f"{V1}/workloads/{workload_id}", Updated, json=data)

    async def delete_workload(self, workload_id: str) -> ApiWorkloadsRoutesRemoved:
        return await self._t.send(
            "DELETE", f"{V1}/workloads/{workload_id}", ApiWorkloadsRoutesRemoved
        )

    async def deploy_workload(
        self,
        workload_id: str,
        *,
        nodes: list[str] | None = None,
        strategy: Mapping[str, Any] | None = None,
        body: DeployWorkload | None = None,
    ) -> Deploying:
        """Roll the workload's revision out in waves; the answer names the rollout."""
        data = body_of(body, {"nodes": nodes, "strategy": strategy})
        return await self._t.send(
            "POST", f"{V1}/workloads/{workload_id}/deploy", Deploying, json=data or None
        )

    async def get_rollout(self, workload_id: str, deployment_id: str) -> RolloutView:
        return await self._t.send(
            "GET", f"{V1}/workloads/{workload_id}/rollouts/{deployment_id}", RolloutView
        )

    async def pause_rollout(self, workload_id: str, deployment_id: str) -> RolloutView:
        return await self._steer(workload_id, deployment_id, "pause")

    async def resume_rollout(self, workload_id: str, deployment_id: str) -> RolloutView:
        return await self._steer(workload_id, deployment_id, "resume")

    async def abort_rollout(self, workload_id: str, deployment_id: str) -> RolloutView:
        return await self._steer(workload_id, deployment_id, "abort")

    async def _steer(self, workload_id: str, deployment_id: str, action: str) -> RolloutView:
        path = f"{V1}/workloads/{workload_id}/rollouts/{deployment_id}/{action}"
        return await self._t.send("POST", path, RolloutView)

    async def wait_rollout(
        self,
        workload_id: str,
        deployment_id: str,
        *,
        timeout: float | None = None,
        poll: float = 1.0,
        on_progress: Callable[[RolloutView], None] | None = None,
    ) -> RolloutView:
        """Poll until the rollout completed, rolled back, failed or was superseded."""
        return await self._wait(
            f"{V1}/workloads/{workload_id}/rollouts/{deployment_id}",
            RolloutView,
            lambda seen: seen.state in ROLLOUT_FINAL,
            timeout=timeout,
            poll=poll,
            on_progress=on_progress,
        )

    async def issue_token(self, node_id: str, *, expiration: str | None = None) -> Issued:
        data = body_of(None, {"node_id": node_id, "expiration": expiration})
        return await self._t.send("POST", f"{V1}/security/tokens", Issued, json=data)

    async def validate_token(self, token: str) -> Validation:
        return await self._t.send(
            "POST", f"{V1}/security/tokens/validate", Validation, json={"token": token}
        )

    async def revoke_token(self, token: str) -> ApiDevicesNodeTokenRoutesRevoked:
        return await self._t.send(
            "POST",
            f"{V1}/security/tokens/revoke",
            ApiDevicesNodeTokenRoutesRevoked,
            json={"token": token},
        )
