"""Stand-ins for the join activities, registered under the real names (the Temporal idiom)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.join_provisioning import JoinProvisioner
from workflows.contracts import (
    Activity,
    CompleteJoinInput,
    DeviceRecordInput,
    DeviceRef,
    DeviceResourceInput,
    EdgecoreConfigMapInput,
    IssuedJoinToken,
    IssueJoinTokenInput,
    NodeRbacInput,
    NodeRef,
    NodeStatus,
    ObjectRef,
    TokenRef,
)


class FakeJoinActivities:
    """Records every call in order; `failures` makes an activity raise what it maps to."""

    def __init__(self, *, ready_after_polls: int | None = 1) -> None:
        self.calls: list[str] = []
        self.failures: dict[Activity, Callable[[], Exception]] = {}
        self.ready_after_polls = ready_after_polls
        self.polls = 0
        # A step named here waits for its event before it returns (set it to let it finish).
        self.holds: dict[Activity, asyncio.Event] = {}

    def fail(self, name: Activity, *, retryable: bool = False) -> None:
        self.failures[name] = lambda: ApplicationError(
            f"{name.value} exploded", type="KubernetesRejected", non_retryable=not retryable
        )

    def _enter(self, name: Activity) -> None:
        self.calls.append(name.value)
        if name in self.failures:
            raise self.failures[name]()

    def all(self) -> list[Callable[..., Any]]:
        @activity.defn(name=Activity.VALIDATE_JOIN)
        async def validate(inp: DeviceRef) -> None:
            self._enter(Activity.VALIDATE_JOIN)

        @activity.defn(name=Activity.ISSUE_JOIN_TOKEN)
        async def issue(inp: IssueJoinTokenInput) -> IssuedJoinToken:
            self._enter(Activity.ISSUE_JOIN_TOKEN)
            return IssuedJoinToken(
                token_id=inp.token_id, sealed_token="sealed", expires_at=inp.expires_at
            )

        @activity.defn(name=Activity.REVOKE_JOIN_TOKEN)
        async def revoke(inp: TokenRef) -> None:
            self._enter(Activity.REVOKE_JOIN_TOKEN)

        @activity.defn(name=Activity.APPLY_EDGECORE_CONFIGMAP)
        async def apply_cm(inp: EdgecoreConfigMapInput) -> ObjectRef:
            self._enter(Activity.APPLY_EDGECORE_CONFIGMAP)
            return ObjectRef(namespace=inp.namespace, name=f"edgecore-config-{inp.node_name}")

        @activity.defn(name=Activity.DELETE_EDGECORE_CONFIGMAP)
        async def delete_cm(inp: ObjectRef) -> None:
            self._enter(Activity.DELETE_EDGECORE_CONFIGMAP)

        @activity.defn(name=Activity.APPLY_DEVICE_RESOURCE)
        async def apply_device(inp: DeviceResourceInput) -> ObjectRef:
            self._enter(Activity.APPLY_DEVICE_RESOURCE)
            return ObjectRef(namespace=inp.namespace, name=inp.device_id)

        @activity.defn(name=Activity.DELETE_DEVICE_RESOURCE)
        async def delete_device(inp: ObjectRef) -> None:
            self._enter(Activity.DELETE_DEVICE_RESOURCE)

        @activity.defn(name=Activity.APPLY_NODE_RBAC)
        async def apply_rbac(inp: NodeRbacInput) -> None:
            self._enter(Activity.APPLY_NODE_RBAC)
            if Activity.APPLY_NODE_RBAC in self.holds:
                await self.holds[Activity.APPLY_NODE_RBAC].wait()

        @activity.defn(name=Activity.DELETE_NODE_RBAC)
        async def delete_rbac(inp: NodeRbacInput) -> None:
            self._enter(Activity.DELETE_NODE_RBAC)

        @activity.defn(name=Activity.RECORD_DEVICE)
        async def record(inp: DeviceRecordInput) -> None:
            self._enter(Activity.RECORD_DEVICE)

        @activity.defn(name=Activity.DELETE_DEVICE_RECORD)
        async def delete_record(inp: DeviceRef) -> None:
            self._enter(Activity.DELETE_DEVICE_RECORD)

        @activity.defn(name=Activity.NOTIFY_DEVICE_PROVISIONED)
        async def notify(inp: DeviceRef) -> None:
            self._enter(Activity.NOTIFY_DEVICE_PROVISIONED)

        @activity.defn(name=Activity.READ_NODE_STATUS)
        async def node_status(inp: NodeRef) -> NodeStatus:
            self._enter(Activity.READ_NODE_STATUS)
            self.polls += 1
            ready = self.ready_after_polls is not None and self.polls >= self.ready_after_polls
            return NodeStatus(exists=ready, ready=ready)

        @activity.defn(name=Activity.COMPLETE_JOIN)
        async def complete(inp: CompleteJoinInput) -> None:
            self._enter(Activity.COMPLETE_JOIN)

        # The real runner of the forward steps, over these stand-ins.
        provisioner = JoinProvisioner(
            {
                Activity.VALIDATE_JOIN: validate,
                Activity.ISSUE_JOIN_TOKEN: issue,
                Activity.APPLY_EDGECORE_CONFIGMAP: apply_cm,
                Activity.APPLY_DEVICE_RESOURCE: apply_device,
                Activity.APPLY_NODE_RBAC: apply_rbac,
                Activity.RECORD_DEVICE: record,
                Activity.NOTIFY_DEVICE_PROVISIONED: notify,
            }
        )
        return [
            validate, issue, revoke, apply_cm, delete_cm, apply_device, delete_device,
            apply_rbac, delete_rbac, record, delete_record, notify, node_status, complete,
            provisioner.provision_device,
        ]  # fmt: skip
