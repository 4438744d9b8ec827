"""What the scale-out run left behind, counted per device, node and command.

Every name the benchmark makes carries its run's tag and a number (`{tag}-dev-00042`,
`{tag}-node-00042`, `{tag}-rn-0007`), so each object found is traced to the device or
node it belongs to. A device is lost when an object it needs is missing, duplicated when
there are two, and an object is orphaned when it belongs to no joined device or no
target node.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from kubernetes import client as k8s
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.models import CommandRow, Device, JoinToken

KUBEEDGE_NAMESPACE = "kubeedge"
DEVICE_NAMESPACE = "default"


@dataclass
class Tally:
    lost: int = 0
    duplicated: int = 0
    orphaned: int = 0
    details: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, found: Counter[int], *, expected: set[int], owners: set[int]) -> None:
        """`found`: objects of one kind per owner number; each expected number once;
        an object whose number is not among `owners` is orphaned."""
        lost = len(expected - set(found))
        duplicated = sum(count - 1 for number, count in found.items() if number in expected)
        orphaned = sum(count for number, count in found.items() if number not in owners)
        self.lost, self.duplicated, self.orphaned = (
            self.lost + lost,
            self.duplicated + duplicated,
            self.orphaned + orphaned,
        )
        self.details[kind] = {"lost": lost, "duplicated": duplicated, "orphaned": orphaned}


def numbered(names: list[str], *, tag: str, kind: str) -> Counter[int]:
    """Owner numbers of the names that are this run's `kind` (dev, node, rn)."""
    pattern = re.compile(rf"{re.escape(tag)}-{kind}-(\d+)")
    found: Counter[int] = Counter()
    for name in names:
        match = pattern.search(name)
        if match:
            found[int(match.group(1))] += 1
    return found


def kube_objects(api: k8s.ApiClient) -> dict[str, list[str]]:
    """Names of what a join and a rollout create, per kind."""
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    devices = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
        "devices.kubeedge.io", "v1beta1", DEVICE_NAMESPACE, "devices"
    )
    deployments = k8s.AppsV1Api(api).list_namespaced_deployment(DEVICE_NAMESPACE)
    return {
        "configmaps": [
            c.metadata.name for c in core.list_namespaced_config_map(KUBEEDGE_NAMESPACE).items
        ],
        "devices": [d["metadata"]["name"] for d in devices["items"]],
        "mqtt_secrets": [
            s.metadata.name
            for s in core.list_namespaced_secret(KUBEEDGE_NAMESPACE).items
            if s.metadata.name.startswith("edgecore-mqtt-")
        ],
        "roles": [r.metadata.name for r in rbac.list_namespaced_role(KUBEEDGE_NAMESPACE).items],
        "rolebindings": [
            b.metadata.name for b in rbac.list_namespaced_role_binding(KUBEEDGE_NAMESPACE).items
        ],
        "deployments": [d.metadata.name for d in deployments.items],
    }


@dataclass(frozen=True)
class StoreRows:
    inventory: list[str]
    tokens: list[tuple[str, bool]]  # (device ID, live: neither used nor revoked)
    commands: dict[str, str]  # command ID -> status


async def store_rows(sessions: async_sessionmaker[AsyncSession], *, tag: str) -> StoreRows:
    async with sessions() as session:
        inventory = (await session.scalars(select(Device.device_id))).all()
        tokens = (await session.execute(select(JoinToken.device_id, JoinToken.revoked_at))).all()
        commands = (await session.execute(select(CommandRow.command_id, CommandRow.status))).all()
    return StoreRows(
        inventory=[d for d in inventory if tag in d],
        tokens=[(d, revoked is None) for d, revoked in tokens if d and tag in d],
        commands={c: s for c, s in commands if tag in c},
    )


def joins(kube: dict[str, list[str]], rows: StoreRows, *, tag: str, devices: int) -> Tally:
    """Every batch device once: inventory row, token, ConfigMap, Device, MQTT Secret, Role
    and RoleBinding of its node; nothing for a device the inventory does not have."""
    expected = set(range(devices))
    tally = Tally()
    inventory = numbered(rows.inventory, tag=tag, kind="dev")
    tally.add("inventory", inventory, expected=expected, owners=expected)
    owners = set(inventory)
    every = [device for device, _ in rows.tokens]
    tally.add("tokens", numbered(every, tag=tag, kind="dev"), expected=expected, owners=owners)
    live = [device for device, is_live in rows.tokens if is_live]
    tally.add("live_tokens", numbered(live, tag=tag, kind="dev"), expected=expected, owners=owners)
    for kind in ("configmaps", "devices", "mqtt_secrets", "roles", "rolebindings"):
        found = numbered(kube[kind], tag=tag, kind="node")
        found += numbered(kube[kind], tag=tag, kind="dev")
        tally.add(kind, found, expected=expected, owners=owners)
    return tally


def rollout(kube: dict[str, list[str]], *, tag: str, nodes: int) -> Tally:
    """One Deployment per target node, none elsewhere."""
    expected = set(range(nodes))
    tally = Tally()
    found = numbered(kube["deployments"], tag=tag, kind="rn")
    tally.add("deployments", found, expected=expected, owners=expected)
    return tally
