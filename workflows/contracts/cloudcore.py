"""CloudCore itself: CloudCoreDeployWorkflow and the activities it runs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    Field,
    StringConstraints,
)
from temporalio import activity

from workflows.contracts.common import ContractModel

CLOUDCORE_DEPLOY_WORKFLOW = "CloudCoreDeployWorkflow"


DEPLOY_PROGRESS_QUERY = "deploy_progress"


KubeEdgeVersion = Annotated[str, StringConstraints(pattern=r"^v?\d{1,3}\.\d{1,3}\.\d{1,3}$")]


# A Kubernetes resource quantity ("500m", "512Mi", "1.5", "2G"); no exponents, no signs.
KubeQuantity = Annotated[
    str, StringConstraints(pattern=r"^\d{1,9}(\.\d{1,6})?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
]


def cloudcore_deploy_workflow_id(namespace: str) -> str:
    return f"cloudcore-deploy/{namespace}"


class CloudCoreActivity(StrEnum):
    """Activity names of CloudCoreDeployWorkflow (stand-ins in tests use the same names)."""

    READ_CLOUDCORE = "read_cloudcore"
    APPLY_CLOUDCORE = "apply_cloudcore"
    READ_CLOUDCORE_ROLLOUT = "read_cloudcore_rollout"
    RESTORE_CLOUDCORE = "restore_cloudcore"
    SNAPSHOT_CLOUDCORE = "snapshot_cloudcore"


class CloudCoreResources(ContractModel):
    cpu: KubeQuantity | None = None
    memory: KubeQuantity | None = None


class CloudCoreSpec(ContractModel):
    version: KubeEdgeVersion
    replicas: int = Field(default=1, ge=1, le=10)
    resources: CloudCoreResources = Field(default_factory=CloudCoreResources)


class CloudCoreTarget(ContractModel):
    namespace: str
    image_repository: str = "kubeedge/cloudcore"


class CloudCoreApplyInput(ContractModel):
    target: CloudCoreTarget
    spec: CloudCoreSpec


class CloudCoreState(ContractModel):
    """What was there before a deploy, so a failed rollout can put it back."""

    deployment_existed: bool
    service_existed: bool
    image: str | None = None
    replicas: int | None = None
    resources: dict[str, dict[str, str]] = Field(default_factory=dict)


class CloudCoreRestoreInput(ContractModel):
    target: CloudCoreTarget
    previous: CloudCoreState


class CloudCoreRolloutState(ContractModel):
    complete: bool
    failed: bool = False
    message: str
    desired: int = 0
    updated: int = 0
    available: int = 0


class DeployStatus(StrEnum):
    APPLYING = "applying"
    ROLLING_OUT = "rolling_out"
    SUCCEEDED = "succeeded"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"  # and could not even be rolled back


class CloudCoreDeployInput(ContractModel):
    target: CloudCoreTarget
    spec: CloudCoreSpec
    fingerprint: str  # sha256 of the request: the same body attaches to a running deploy
    rollout_timeout_seconds: float = Field(gt=0)
    poll_seconds: float = Field(default=2.0, gt=0)


class CloudCoreDeployProgress(ContractModel):
    namespace: str
    version: str
    status: DeployStatus
    message: str
    fingerprint: str
    deployment_name: str = "cloudcore"
    created: bool = False  # no CloudCore Deployment existed before this run
    rollout: CloudCoreRolloutState | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


# --- Activities the workflows call, as typed references ---
# Workflows may not import activities/ (I/O libraries), so they call these stubs: mypy
# checks each call's argument and result. tests/workers/test_activity_stubs.py checks
# them against what workers/worker.py registers under the same names.
@activity.defn(name=CloudCoreActivity.READ_CLOUDCORE)
async def read_cloudcore(inp: CloudCoreTarget) -> CloudCoreState:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CloudCoreActivity.APPLY_CLOUDCORE)
async def apply_cloudcore(inp: CloudCoreApplyInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CloudCoreActivity.READ_CLOUDCORE_ROLLOUT)
async def read_cloudcore_rollout(inp: CloudCoreApplyInput) -> CloudCoreRolloutState:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CloudCoreActivity.RESTORE_CLOUDCORE)
async def restore_cloudcore(inp: CloudCoreRestoreInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=CloudCoreActivity.SNAPSHOT_CLOUDCORE)
async def snapshot_cloudcore(inp: CloudCoreTarget) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
