"""Bodies of the CloudCore contract: deploy requests and answers, CloudCore's status."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts.cloudcore import (
    CloudCoreResources,
    CloudCoreRolloutState,
    DeployStatus,
    KubeEdgeVersion,
)


class DeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: KubeEdgeVersion = Field(examples=["1.18.0"])
    replicas: int = Field(default=1, ge=1, le=10)
    resources: CloudCoreResources = Field(
        default_factory=CloudCoreResources,
        description="Requests and limits of the cloudcore container (cpu, memory)",
    )


class DeployAnswer(BaseModel):
    status: str = Field(
        description='"success"; "accepted" with 202; on the status URL "in_progress", '
        '"success" or "failed"'
    )
    message: str
    deployment_name: str
    namespace: str
    created_at: datetime | None = Field(description="When the deploy started")
    # ours
    version: str
    deploy_status: DeployStatus | None = Field(
        description="null only when the run did not say within the answer timeout"
    )
    rollout: CloudCoreRolloutState | None
    run_id: str
    status_url: str = Field(description="Where this deploy run tells how it goes")
    workflow_id: str
    temporal_ui_url: str


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
    available_replicas: int | None = Field(
        default=None, description="What `status` is judged by: running when all are available"
    )
    observed_at: datetime | None = Field(description="When the worker last read CloudCore")
