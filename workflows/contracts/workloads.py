"""Workloads: WorkloadRolloutWorkflow, WorkloadRemovalWorkflow and their activities.

A workload is one definition (image, replicas, resources, placement) with numbered
revisions. It runs as one Kubernetes object per target edge node, pinned to that node and
labelled with the workload and its revision, so every wave, gate and rollback works on a
known set of objects and can be redone idempotently. `WorkloadRolloutWorkflow`
(`rollout/{workload_id}/{revision}`) moves the target nodes to one revision in waves;
`WorkloadRemovalWorkflow` (`workload-removal/{workload_id}`) removes everything a workload
deployed. The API, the activities and both workflows import this module, never each other.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator
from temporalio import activity

from workflows.contracts.common import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NODE_LABEL,
    ContractModel,
    NodeName,
)

WORKLOAD_ROLLOUT_WORKFLOW = "WorkloadRolloutWorkflow"
WORKLOAD_REMOVAL_WORKFLOW = "WorkloadRemovalWorkflow"

ROLLOUT_PROGRESS_QUERY = "progress"
ROLLOUT_PAUSE_SIGNAL = "pause"
ROLLOUT_RESUME_SIGNAL = "resume"
ROLLOUT_ABORT_SIGNAL = "abort"
# Sent by the API to a running rollout of an older revision when a newer one starts: the
# old run stops applying waves and ends `superseded` without rolling back (the newer
# revision takes its nodes over, and rolls back to what they ran before it).
ROLLOUT_SUPERSEDE_SIGNAL = "supersede"

# Labels and annotations on every object a workload creates (besides MANAGED_BY_LABEL).
WORKLOAD_LABEL = "edgewright.io/workload-id"
REVISION_LABEL = "edgewright.io/revision"
# NODE_LABEL (common) names the node an object is pinned to.
HOSTNAME_LABEL = "kubernetes.io/hostname"


def rollout_workflow_id(workload_id: str, revision: int) -> str:
    return f"rollout/{workload_id}/{revision}"


def workload_removal_workflow_id(workload_id: str) -> str:
    return f"workload-removal/{workload_id}"


def workload_object_name(workload_name: str, node_name: str) -> str:
    """`{workload}-{node}`, a DNS-1123 label; too long, it keeps a hash of the whole."""
    name = f"{workload_name}-{node_name}".replace(".", "-")
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:52].rstrip('-')}-{digest}"


# --- the workload definition -------------------------------------------------------------

# Always .fullmatch: with .match, `$` lets a trailing newline through.
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T|e[0-9]+)?")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")


def _quantity(value: str) -> str:
    if not _QUANTITY.fullmatch(value):
        raise ValueError("must be a Kubernetes quantity such as '100m', '0.5' or '128Mi'")
    return value


def _label_key(value: str) -> str:
    if len(value) > 316 or not _LABEL_KEY.fullmatch(value):
        raise ValueError("must be a Kubernetes label key such as 'location' or 'example.com/zone'")
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise ValueError("must be a Kubernetes label value: at most 63 letters, digits, '-_.'")
    return value


def _image(value: str) -> str:
    if not _IMAGE.fullmatch(value):
        raise ValueError("must be a container image reference such as 'nginx:1.27'")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Image = Annotated[str, AfterValidator(_image)]


class WorkloadKind(StrEnum):
    DEPLOYMENT = "deployment"
    STATEFULSET = "statefulset"


class ResourceList(ContractModel):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class Resources(ContractModel):
    requests: ResourceList = ResourceList()
    limits: ResourceList = ResourceList()


class ConstraintOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class PlacementConstraint(ContractModel):
    """A node-label requirement, with Kubernetes' node-affinity semantics."""

    key: LabelKey
    operator: ConstraintOperator
    values: list[LabelValue] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _values_match_operator(self) -> PlacementConstraint:
        needs_values = self.operator in (ConstraintOperator.IN, ConstraintOperator.NOT_IN)
        if needs_values and not self.values:
            raise ValueError(f"operator {self.operator.value} needs at least one value")
        if not needs_values and self.values:
            raise ValueError(f"operator {self.operator.value} takes no values")
        return self

    def admits(self, labels: dict[str, str]) -> bool:
        match self.operator:
            case ConstraintOperator.IN:
                return labels.get(self.key) in self.values
            case ConstraintOperator.NOT_IN:
                return labels.get(self.key) not in self.values
            case ConstraintOperator.EXISTS:
                return self.key in labels
            case ConstraintOperator.DOES_NOT_EXIST:
                return self.key not in labels


class PlacementStrategy(StrEnum):
    # Edge nodes that match; when none match, cloud nodes that match (the seed's default).
    EDGE_FIRST = "edge-first"
    EDGE_ONLY = "edge-only"  # edge nodes that match, never cloud nodes


class Placement(ContractModel):
    strategy: PlacementStrategy = PlacementStrategy.EDGE_FIRST
    constraints: list[PlacementConstraint] = Field(default_factory=list, max_length=50)

    def admits(self, labels: dict[str, str]) -> bool:
        return all(constraint.admits(labels) for constraint in self.constraints)


class ServicePort(ContractModel):
    """A port the workload's container listens on, published per node (apps)."""

    container_port: int = Field(ge=1, le=65535)
    # The port each device's Service answers on; allocated by the API, stable per device.
    service_ports: dict[str, int] = Field(default_factory=dict)  # node name -> port


class WorkloadSpec(ContractModel):
    """One revision of a workload: everything its Kubernetes objects are built from."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)]
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    image: Image
    replicas: int = Field(default=1, ge=0, le=1000)
    resources: Resources = Resources()
    placement: Placement = Placement()
    # Environment for the container (the apps contract's `config`), values as strings.
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    ports: list[ServicePort] = Field(default_factory=list, max_length=10)


# --- rollouts ----------------------------------------------------------------------------


class RolloutStrategy(ContractModel):
    """How the target nodes are cut into waves and when a rollout gives up.

    The first wave is a canary of `canary_nodes`; the rest go in waves of `wave_percent`
    of the targets, or `max_unavailable` nodes when that is set (the smaller wins).
    """

    canary_nodes: int = Field(default=1, ge=0)
    wave_percent: float = Field(default=25.0, gt=0, le=100)
    max_unavailable: int | None = Field(default=None, ge=1)
    # How long a wave may take to report ready before its unready nodes count as failed.
    gate_timeout_seconds: float = Field(default=300.0, gt=0, le=24 * 3600)
    # Abort (and roll back) once the failed share of the nodes applied so far passes this.
    abort_threshold_percent: float = Field(default=0.0, ge=0, le=100)
    # A pause between waves, for an operator to watch the canary.
    wave_interval_seconds: float = Field(default=0.0, ge=0, le=24 * 3600)


# Names the /api/v1 deploy call may use for `strategy`, as presets.
STRATEGY_PRESETS: dict[str, RolloutStrategy] = {
    "rolling": RolloutStrategy(),
    "canary": RolloutStrategy(canary_nodes=1, wave_percent=10.0),
    "all-at-once": RolloutStrategy(canary_nodes=0, wave_percent=100.0),
}


class RolloutState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    ROLLING_BACK = "rolling_back"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"  # failed or aborted, and every applied wave undone
    FAILED = "failed"  # failed and could not roll back completely: see `error`
    SUPERSEDED = "superseded"

    @property
    def final(self) -> bool:
        return self in (
            RolloutState.COMPLETED,
            RolloutState.ROLLED_BACK,
            RolloutState.FAILED,
            RolloutState.SUPERSEDED,
        )


class NodeOutcome(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    READY = "ready"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class RolloutInput(ContractModel):
    workload_id: str
    revision: int = Field(ge=1)
    spec: WorkloadSpec
    # Explicit targets (already validated by the API); empty means: resolve the placement.
    nodes: list[NodeName] = Field(default_factory=list, max_length=100_000)
    strategy: RolloutStrategy = RolloutStrategy()
    rollout_id: str  # the deployment ID the API answers with
    requested_by: str | None = None


class PriorObject(ContractModel):
    """What a node ran before a rollout touched it; rollback puts exactly this back."""

    node_name: NodeName
    revision: int | None  # None: the workload did not run there, rollback removes it
    spec: WorkloadSpec | None = None


class Wave(ContractModel):
    index: int
    nodes: list[NodeName]
    canary: bool = False


class WaveResult(ContractModel):
    index: int
    ready: list[NodeName] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)  # node -> why


class RolloutProgress(ContractModel):
    rollout_id: str
    workload_id: str
    revision: int
    state: RolloutState
    total_nodes: int
    waves_total: int
    waves_done: int = 0
    current_wave: int | None = None
    nodes_ready: int = 0
    nodes_failed: int = 0
    failures: dict[str, str] = Field(default_factory=dict)
    rolled_back: list[NodeName] = Field(default_factory=list)
    abort_reason: str | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None


class WorkloadRemovalInput(ContractModel):
    workload_id: str
    namespace: str
    requested_by: str | None = None


class WorkloadRemovalResult(ContractModel):
    workload_id: str
    objects_deleted: list[str] = Field(default_factory=list)
    rollouts_stopped: list[str] = Field(default_factory=list)


def labels_for(workload_id: str, revision: int, node_name: str) -> dict[str, str]:
    """The labels every object of a workload carries."""
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        WORKLOAD_LABEL: workload_id,
        REVISION_LABEL: str(revision),
        NODE_LABEL: node_name,
    }


# A `status.conditions` type that, with status "True", marks an object failed right away
# (the gate stops waiting for it). The simulator sets it on objects of its nodes that fail.
WORKLOAD_FAILED_CONDITION = "edgewright.io/Failed"


# --- the rollout engine's activities --------------------------------------------------


class WorkloadMode(StrEnum):
    """How a cluster runs workloads; detected per rollout through API discovery."""

    DEPLOYMENT = "deployment"  # one Deployment/StatefulSet per (workload, node)
    # KubeEdge's apps.kubeedge.io/v1alpha1: one EdgeApplication per (workload, node),
    # targeting a one-node NodeGroup; KubeEdge's controller makes the Deployment.
    EDGE_APPLICATION = "edgeapplication"


class WorkloadActivity(StrEnum):
    """Registered activity names; workflow tests register stand-ins under the same names."""

    DETECT_MODE = "detect_workload_mode"
    LIST_TARGETS = "list_workload_targets"
    READ_PRIORS = "read_workload_priors"
    APPLY_WAVE = "apply_workload_wave"
    GATE_WAVE = "gate_workload_wave"
    ROLL_BACK = "roll_back_workload_nodes"
    DELETE_OBJECTS = "delete_workload_objects"
    RECORD_ROLLOUT = "record_rollout"
    LOAD_REVISION = "load_workload_revision"
    RUNNING_ROLLOUTS = "running_workload_rollouts"
    DELETE_RECORDS = "delete_workload_records"


class TargetsInput(ContractModel):
    placement: Placement


class PriorsInput(ContractModel):
    workload_id: str
    spec: WorkloadSpec  # the revision being rolled out: names the objects and namespace
    mode: WorkloadMode
    nodes: list[NodeName]


class PriorObjects(ContractModel):
    """What each node ran before, compactly: one spec per revision, not one per node."""

    revisions: dict[str, int] = Field(default_factory=dict)  # node -> revision
    specs: dict[int, WorkloadSpec] = Field(default_factory=dict)  # revision -> spec

    def of(self, node_name: str) -> PriorObject:
        revision = self.revisions.get(node_name)
        spec = self.specs.get(revision) if revision is not None else None
        return PriorObject(node_name=node_name, revision=revision, spec=spec)


class ApplyWaveInput(ContractModel):
    workload_id: str
    revision: int
    spec: WorkloadSpec
    mode: WorkloadMode
    nodes: list[NodeName]


class NodeSetOutcome(ContractModel):
    """What an activity over a set of nodes did: `done` nodes, and why the others failed."""

    done: list[NodeName] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)


class GateInput(ContractModel):
    workload_id: str
    revision: int
    spec: WorkloadSpec
    index: int  # the wave's index, for WaveResult
    nodes: list[NodeName]
    # Absolute, so a retried gate (a worker restart) keeps the wave's original deadline.
    deadline: datetime
    poll_seconds: float = Field(default=2.0, gt=0, le=60)


class RollbackInput(ContractModel):
    workload_id: str
    spec: WorkloadSpec  # the revision being undone: names the objects to remove
    mode: WorkloadMode
    priors: list[PriorObject]


class NodeRecord(ContractModel):
    node_name: NodeName
    revision: int | None  # None: the workload no longer runs there (its row goes)
    state: NodeOutcome
    service_port: int | None = None


class RecordRolloutInput(ContractModel):
    workflow_id: str
    progress: RolloutProgress
    strategy: RolloutStrategy | None = None  # only on the first record
    target_nodes: list[NodeName] | None = None  # once resolved
    nodes: list[NodeRecord] = Field(default_factory=list)
    requested_by: str | None = None


class RevisionRef(ContractModel):
    workload_id: str
    revision: int


class WorkloadRef(ContractModel):
    workload_id: str


# --- Activities the workflows call, as typed references ---
# Workflows may not import activities/ (I/O libraries), so they call these stubs: mypy
# checks each call's argument and result. tests/workers/test_activity_stubs.py checks
# them against what workers/worker.py registers under the same names.
@activity.defn(name=WorkloadActivity.DETECT_MODE)
async def detect_workload_mode() -> WorkloadMode:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.LIST_TARGETS)
async def list_workload_targets(inp: TargetsInput) -> list[str]:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.READ_PRIORS)
async def read_workload_priors(inp: PriorsInput) -> PriorObjects:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.APPLY_WAVE)
async def apply_workload_wave(inp: ApplyWaveInput) -> NodeSetOutcome:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.GATE_WAVE)
async def gate_workload_wave(inp: GateInput) -> WaveResult:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.ROLL_BACK)
async def roll_back_workload_nodes(inp: RollbackInput) -> NodeSetOutcome:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.DELETE_OBJECTS)
async def delete_workload_objects(inp: WorkloadRemovalInput) -> list[str]:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.RECORD_ROLLOUT)
async def record_rollout(inp: RecordRolloutInput) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.LOAD_REVISION)
async def load_workload_revision(inp: RevisionRef) -> WorkloadSpec | None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.RUNNING_ROLLOUTS)
async def running_workload_rollouts(inp: WorkloadRef) -> list[str]:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError


@activity.defn(name=WorkloadActivity.DELETE_RECORDS)
async def delete_workload_records(inp: WorkloadRef) -> None:
    """Stub for workflows: the worker registers the implementation under the same name."""
    raise NotImplementedError
