"""Stand-ins for the removal and CloudCore activities, registered under the real names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from workflows.contracts.cloudcore import (
    CloudCoreActivity,
    CloudCoreApplyInput,
    CloudCoreRestoreInput,
    CloudCoreRolloutState,
    CloudCoreState,
    CloudCoreTarget,
)
from workflows.contracts.common import DeviceRef, NodeRef, ObjectRef
from workflows.contracts.devices import (
    DevicesActivity,
    NodeDeletion,
    RevokeDeviceTokensInput,
    RevokedTokens,
    SyncClusterInput,
    SyncSummary,
)
from workflows.contracts.join import JoinActivity, NodeRbacInput

Name = JoinActivity | DevicesActivity


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
        @activity.defn(name=DevicesActivity.CANCEL_JOIN_RUN)
        async def cancel_join(inp: DeviceRef) -> bool:
            self._enter(DevicesActivity.CANCEL_JOIN_RUN)
            return self.join_was_running

        @activity.defn(name=JoinActivity.DELETE_DEVICE_RESOURCE)
        async def delete_device(inp: ObjectRef) -> None:
            self._enter(JoinActivity.DELETE_DEVICE_RESOURCE)

        @activity.defn(name=JoinActivity.DELETE_EDGECORE_CONFIGMAP)
        async def delete_cm(inp: ObjectRef) -> None:
            self._enter(JoinActivity.DELETE_EDGECORE_CONFIGMAP)

        @activity.defn(name=JoinActivity.DELETE_NODE_RBAC)
        async def delete_rbac(inp: NodeRbacInput) -> None:
            self._enter(JoinActivity.DELETE_NODE_RBAC)

        @activity.defn(name=DevicesActivity.DELETE_NODE)
        async def delete_node(inp: NodeRef) -> NodeDeletion:
            self._enter(DevicesActivity.DELETE_NODE)
            return self.node

        @activity.defn(name=DevicesActivity.REVOKE_DEVICE_TOKENS)
        async def revoke(inp: RevokeDeviceTokensInput) -> RevokedTokens:
            self._enter(DevicesActivity.REVOKE_DEVICE_TOKENS)
            return RevokedTokens(join_tokens=1, node_tokens=2 if inp.node_id else 0)

        @activity.defn(name=JoinActivity.DELETE_DEVICE_RECORD)
        async def delete_record(inp: DeviceRef) -> None:
            self._enter(JoinActivity.DELETE_DEVICE_RECORD)

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
        @activity.defn(name=CloudCoreActivity.READ_CLOUDCORE)
        async def read(inp: CloudCoreTarget) -> CloudCoreState:
            self._enter(CloudCoreActivity.READ_CLOUDCORE)
            return self.previous

        @activity.defn(name=CloudCoreActivity.APPLY_CLOUDCORE)
        async def apply(inp: CloudCoreApplyInput) -> None:
            self._enter(CloudCoreActivity.APPLY_CLOUDCORE)

        @activity.defn(name=CloudCoreActivity.READ_CLOUDCORE_ROLLOUT)
        async def rollout(inp: CloudCoreApplyInput) -> CloudCoreRolloutState:
            self._enter(CloudCoreActivity.READ_CLOUDCORE_ROLLOUT)
            self.polls += 1
            done = self.ready_after_polls is not None and self.polls >= self.ready_after_polls
            return CloudCoreRolloutState(
                complete=done,
                message="rolled out" if done else "0 of 1 replicas updated",
                desired=inp.spec.replicas,
                updated=inp.spec.replicas if done else 0,
                available=inp.spec.replicas if done else 0,
            )

        @activity.defn(name=CloudCoreActivity.RESTORE_CLOUDCORE)
        async def restore(inp: CloudCoreRestoreInput) -> None:
            self._enter(CloudCoreActivity.RESTORE_CLOUDCORE)
            self.restored.append(inp)

        @activity.defn(name=CloudCoreActivity.SNAPSHOT_CLOUDCORE)
        async def snapshot(inp: CloudCoreTarget) -> None:
            self._enter(CloudCoreActivity.SNAPSHOT_CLOUDCORE)

        return [read, apply, rollout, restore, snapshot]

    def sync(self) -> list[Callable[..., Any]]:
        @activity.defn(name=DevicesActivity.SYNC_CLUSTER)
        async def sync_cluster(inp: SyncClusterInput) -> SyncSummary:
            self._enter(DevicesActivity.SYNC_CLUSTER)
            self.sync_rounds += 1
            return SyncSummary(
                observed_at=activity.info().started_time,
                nodes_seen=self.sync_rounds,
                pods_seen=0,
                devices_updated=0,
                tokens_used=0,
            )

        return [sync_cluster]
