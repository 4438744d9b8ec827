"""Request bodies of `/api/v1/workloads` and `/api/kubeedge/apps/deploy`.

Field types come from workflows.contracts.workloads, so a body that validates here builds
a WorkloadSpec that validates too: bad images, quantities, label keys and placement
operators are 400s naming the field, before anything is written.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from workflows.contracts.workloads import (
    STRATEGY_PRESETS,
    Image,
    Placement,
    Quantity,
    Resources,
    RolloutStrategy,
    WorkloadKind,
    WorkloadSpec,
)

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
WorkloadName = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=40)]
Namespace = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]
EnvValue = Annotated[str, StringConstraints(max_length=4096)]
NodeRef = Annotated[str, StringConstraints(min_length=1, max_length=253)]
Replicas = Annotated[int, Field(ge=0, le=1000)]
MAX_TARGETS = 10_000


def _strategy(value: Any) -> Any:
    if isinstance(value, str):
        preset = STRATEGY_PRESETS.get(value)
        if preset is None:
            names = ", ".join(sorted(STRATEGY_PRESETS))
            raise ValueError(f"unknown strategy {value!r}: use one of {names}, or an object")
        return preset
    return value


Strategy = Annotated[
    RolloutStrategy,
    BeforeValidator(_strategy),
    Field(
        description="A preset name (" + ", ".join(sorted(STRATEGY_PRESETS)) + ") or an object "
        "with canary_nodes, wave_percent, max_unavailable, gate_timeout_seconds, "
        "abort_threshold_percent, wave_interval_seconds"
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateWorkload(_Body):
    name: WorkloadName
    namespace: Namespace = "default"
    type: WorkloadKind = WorkloadKind.DEPLOYMENT
    image: Image
    replicas: Replicas = 1
    resources: Resources = Resources()
    placement: Placement = Placement()
    env: dict[EnvName, EnvValue] = Field(default_factory=dict, max_length=100)

    def spec(self) -> WorkloadSpec:
        return WorkloadSpec(
            name=self.name,
            namespace=self.namespace,
            kind=self.type,
            image=self.image,
            replicas=self.replicas,
            resources=self.resources,
            placement=self.placement,
            env=self.env,
        )


class UpdateWorkload(_Body):
    """Fields to change; `resources`, `placement` and `env` are replaced as a whole.

    name, namespace and type are accepted (a client may send the whole object back) but
    cannot change: the Kubernetes objects are named and typed after them.
    """

    name: WorkloadName | None = None
    namespace: Namespace | None = None
    type: WorkloadKind | None = None
    image: Image | None = None
    replicas: Replicas | None = None
    resources: Resources | None = None
    placement: Placement | None = None
    env: dict[EnvName, EnvValue] | None = Field(default=None, max_length=100)

    def apply_to(self, spec: WorkloadSpec) -> WorkloadSpec:
        """`spec` with this update's fields; ValueError names a field that cannot change."""
        fixed = {"name": spec.name, "namespace": spec.namespace, "type": spec.kind}
        for field, current in fixed.items():
            given = getattr(self, field)
            if given is not None and given != current:
                raise ValueError(field)
        changes = self.model_dump(
            exclude_unset=True, exclude_none=True, exclude={"name", "namespace", "type"}
        )
        return WorkloadSpec.model_validate({**spec.model_dump(mode="json"), **changes})


class DeployWorkload(_Body):
    nodes: list[NodeRef] = Field(
        default_factory=list,
        max_length=MAX_TARGETS,
        description="Edge API node ids or node names; empty: the placement chooses",
    )
    strategy: Strategy = STRATEGY_PRESETS["rolling"]


# --- apps ----------------------------------------------------------------------------------

ConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=100)]


class AppResources(_Body):
    cpu: Quantity | None = Field(default=None, examples=["500m"])
    memory: Quantity | None = Field(default=None, examples=["512Mi"])


DEFAULT_APP_PORT = 5000
# Per-device Service ports are allocated from this range, lowest free first.
SERVICE_PORTS = (5001, 5999)


class DeployApp(_Body):
    name: WorkloadName
    image: Image
    device_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=63)]] = Field(
        min_length=1, max_length=MAX_TARGETS
    )
    config: dict[ConfigKey, Any] = Field(default_factory=dict, max_length=100)
    resources: AppResources = AppResources()
    # ours
    port: int = Field(default=DEFAULT_APP_PORT, ge=1, le=65535, description="Container port")
    namespace: Namespace = "default"
    replicas: Replicas = 1
    strategy: Strategy = STRATEGY_PRESETS["rolling"]
    wait: bool | Annotated[float, Field(ge=0)] = Field(
        default=True,
        description="true: answer once the rollout ends (bounded); false: 202 at once; "
        "a number: wait at most that many seconds",
    )


def config_env(config: dict[str, Any]) -> dict[str, str]:
    """The app's `config` as container environment: `confidence: 0.7` → CONFIDENCE=0.7.

    Strings are kept as they are, everything else is JSON (`true`, `0.7`, `[1, 2]`).
    ValueError when two keys map to one variable.
    """
    env: dict[str, str] = {}
    for key, value in config.items():
        name = re.sub(r"[^A-Za-z0-9_]", "_", key).upper()
        if name in env:
            raise ValueError(f"config keys map to the same variable {name}")
        env[name] = value if isinstance(value, str) else json.dumps(value)
    return env
