"""Stand-ins for the removal and CloudCore activities, registered under the real names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts import (
    Activity,
    CloudCoreApplyInput,
    CloudCoreRestoreInput,
    CloudCoreState,
    CloudCoreTarget,
    DeviceRef,
    InventoryActivity,
    NodeDeletion,
    NodeRbacInput,
    NodeRef,
    ObjectRef,
    RevokeDeviceTokensInput,
    RevokedTokens,
    RolloutState,
    SyncClusterInput,
    SyncSummary,
)

Name = Activity | InventoryActivity


class FakeInventoryActivities:
    """Records every call in order; `fail` makes an activity raise a final or a retryable
    error; the other attributes set what the reads answer."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failures: dict[Name, Callable[[], Exception]] = {}
        self.join_was_running = False
        self.node = NodeDeletion.DELETED
        self.previous = CloudCoreState(deployment_existed=True, service_existed=True, image="old")
        self.ready_after_polls: int | None = 2
        self.polls = 0
        self.restored: list[CloudCoreRestoreInput] = []
        self.sync_rounds = 0

    def fail(self, name: Name, *, error_type: str = "Forbidden", retryable: bool = False) -> None:
        self.failures[name] = lambda: ApplicationError(
            f"{name.value} exploded", type=error_type, non_retryable=not retryable
        )

    def _enter(self, name: Name) -> None:
        self.calls.append(name.value)
        if name in self.failures:
            raise self.failures[name]()

    def removal(self) -> list[Callable[..., Any]]:
        @activity.defn(name=InventoryActivity.CANCEL_JOIN_RUN)
        async def cancel_join(inp: DeviceRef) -> bool:
            self._enter(InventoryActivity.CANCEL_JOIN_RUN)
            return self.join_was_running

        @activity.defn(name=Activity.DELETE_DEVICE_RESOURCE)
        async def delete_device(inp: ObjectRef) -> None:
            self._enter(Activity.DELETE_DEVICE_RESOURCE)

        @activity.defn(name=Activity.DELETE_EDGECORE_CONFIGMAP)
        async def delete_cm(inp: ObjectRef) -> None:
            self._enter(Activity.DELETE_EDGECORE_CONFIGMAP)

        @activity.defn(name=Activity.DELETE_NODE_RBAC)
        async def delete_rbac(inp: NodeRbacInput) -> None:
            self._enter(Activity.DELETE_NODE_RBAC)

        @activity.defn(name=InventoryActivity.DELETE_NODE)
        async def delete_node(inp: NodeRef) -> NodeDeletion:
            self._enter(InventoryActivity.DELETE_NODE)
            return self.node

        @activity.defn(name=InventoryActivity.REVOKE_DEVICE_TOKENS)
        async def revoke(inp: RevokeDeviceTokensInput) -> RevokedTokens:
            self._enter(InventoryActivity.REVOKE_DEVICE_TOKENS)
            return RevokedTokens(join_tokens=1, node_tokens=2 if inp.node_id else 0)

        @activity.defn(name=Activity.DELETE_DEVICE_RECORD)
        async def delete_record(inp: DeviceRef) -> None:
            self._enter(Activity.DELETE_DEVICE_RECORD)

        return [
            cancel_join,
            delete_device,
            delete_cm,
            delete_rbac,
            delete_node,
            revoke,
            delete_record,
        ]

    def cloudcore(self) -> list[Callable[..., Any]]:
        @activity.defn(name=InventoryActivity.READ_CLOUDCORE)
        async def read(inp: CloudCoreTarget) -> CloudCoreState:
            self._enter(InventoryActivity.READ_CLOUDCORE)
            return self.previous

        @activity.defn(name=InventoryActivity.APPLY_CLOUDCORE)
        async def apply(inp: CloudCoreApplyInput) -> None:
            self._enter(InventoryActivity.APPLY_CLOUDCORE)

        @activity.defn(name=InventoryActivity.READ_CLOUDCORE_ROLLOUT)
        async def rollout(inp: CloudCoreApplyInput) -> RolloutState:
            self._enter(InventoryActivity.READ_CLOUDCORE_ROLLOUT)
            self.polls += 1
            done = self.ready_after_polls is not None and self.polls >= self.ready_after_polls
            return RolloutState(
                complete=done,
                message="rolled out" if done else "0 of 1 replicas updated",
                desired=inp.spec.replicas,
                updated=inp.spec.replicas if done else 0,
                available=inp.spec.replicas if done else 0,
            )

        @activity.defn(name=InventoryActivity.RESTORE_CLOUDCORE)
        async def restore(inp: CloudCoreRestoreInput) -> None:
            self._enter(InventoryActivity.RESTORE_CLOUDCORE)
            self.restored.append(inp)

        @activity.defn(name=InventoryActivity.SNAPSHOT_CLOUDCORE)
        async def snapshot(inp: CloudCoreTarget) -> None:
            self._enter(InventoryActivity.SNAPSHOT_CLOUDCORE)

        return [read, apply, rollout, restore, snapshot]

    def sync(self) -> list[Callable[..., Any]]:
        @activity.defn(name=InventoryActivity.SYNC_CLUSTER)
        async def sync_cluster(inp: SyncClusterInput) -> SyncSummary:
            self._enter(InventoryActivity.SYNC_CLUSTER)
            self.sync_rounds += 1
            return SyncSummary(
                observed_at=activity.info().started_time,
                nodes_seen=self.sync_rounds,
                pods_seen=0,
                devices_updated=0,
                tokens_used=0,
            )

        return [sync_cluster]
