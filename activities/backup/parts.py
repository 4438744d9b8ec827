"""What a backup holds, part by part: the store tables and the Kubernetes objects we own.

Adding a table to backups is one line here: its name, the `include` that selects it, and
its business key (restores match rows by it). A part whose table does not exist (yet) is
listed in the manifest as skipped, with the reason, so declaring the tables the
architecture promises (commands, workloads) ahead of them is harmless. Users, API keys and
revoked login tokens are deliberately absent: an archive should not carry password and key
hashes, and a restore must never touch a revocation list.

Order matters: restores upsert parts in this order and delete in the reverse one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from adapters.kubernetes.manifests import Body
from adapters.kubernetes.objects import CONFIGMAP, DEVICE, ROLE, ROLE_BINDING, KubeKind
from store.backup.table_dump import TableSpec
from store.settings import Settings
from workflows.contracts.backup import BackupInclude
from workflows.contracts.common import DEVICE_LABEL, NODE_LABEL


@dataclass(frozen=True, kw_only=True)
class TablePart:
    name: str
    include: BackupInclude
    spec: TableSpec


@dataclass(frozen=True, kw_only=True)
class KubePart:
    name: str
    include: BackupInclude
    kind: KubeKind
    namespace: Literal["kubeedge", "device"]  # which configured namespace holds them
    # Beyond our managed-by label: the label that makes an object part of this part
    # (a device's ConfigMap carries the device label; a CloudCore ConfigMap would not).
    owner_label: str

    def namespace_in(self, settings: Settings) -> str:
        if self.namespace == "kubeedge":
            return settings.kubeedge_namespace
        return settings.device_namespace

    def holds(self, obj: Body) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return self.owner_label in labels


TABLE_PARTS: tuple[TablePart, ...] = (
    TablePart(
        name="config",
        include=BackupInclude.CONFIG,
        spec=TableSpec(table="runtime_config", key=("key",)),
    ),
    # Token hashes only: the tokens themselves are never stored. A restore never revives a
    # token revoked or used since the backup (latest_wins).
    TablePart(
        name="join_tokens",
        include=BackupInclude.TOKENS,
        spec=TableSpec(
            table="join_tokens", key=("token_id",), latest_wins=("used_at", "revoked_at")
        ),
    ),
    TablePart(
        name="node_tokens",  # the Edge API's security tokens
        include=BackupInclude.TOKENS,
        spec=TableSpec(table="node_tokens", key=("token_id",), latest_wins=("revoked_at",)),
    ),
    TablePart(
        name="devices",
        include=BackupInclude.DEVICES,
        spec=TableSpec(table="devices", key=("device_id",)),
    ),
    TablePart(
        name="commands",
        include=BackupInclude.COMMANDS,
        spec=TableSpec(table="commands", key=("command_id",)),
    ),
    TablePart(
        name="workloads",
        include=BackupInclude.WORKLOADS,
        spec=TableSpec(table="workloads", key=("workload_id",)),
    ),
    TablePart(
        name="workload_revisions",
        include=BackupInclude.WORKLOADS,
        spec=TableSpec(table="workload_revisions", key=("workload_id", "revision")),
    ),
    TablePart(
        name="rollouts",
        include=BackupInclude.WORKLOADS,
        spec=TableSpec(table="rollouts", key=("rollout_id",)),
    ),
    TablePart(
        name="workload_nodes",
        include=BackupInclude.WORKLOADS,
        spec=TableSpec(table="workload_nodes", key=("workload_id", "node_name")),
    ),
)

KUBE_PARTS: tuple[KubePart, ...] = (
    KubePart(
        name="kube/configmaps",
        include=BackupInclude.DEVICES,
        kind=CONFIGMAP,
        namespace="kubeedge",
        owner_label=DEVICE_LABEL,
    ),
    KubePart(
        name="kube/roles",
        include=BackupInclude.DEVICES,
        kind=ROLE,
        namespace="kubeedge",
        owner_label=NODE_LABEL,
    ),
    KubePart(
        name="kube/rolebindings",
        include=BackupInclude.DEVICES,
        kind=ROLE_BINDING,
        namespace="kubeedge",
        owner_label=NODE_LABEL,
    ),
    KubePart(
        name="kube/devices",
        include=BackupInclude.DEVICES,
        kind=DEVICE,
        namespace="device",
        owner_label=DEVICE_LABEL,
    ),
)

ALL_PARTS: tuple[TablePart | KubePart, ...] = (*TABLE_PARTS, *KUBE_PARTS)
PARTS_BY_NAME: dict[str, TablePart | KubePart] = {part.name: part for part in ALL_PARTS}
