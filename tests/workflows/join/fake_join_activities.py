"""Stand-ins for the join activities, registered under the real names (the Temporal idiom)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.join.provisioning import JoinProvisioner
from workflows.contracts.common import DeviceRef, NodeRef, ObjectRef
from workflows.contracts.join import (
    CompleteJoinInput,
    DeviceRecordInput,
    DeviceResourceInput,
    EdgecoreConfigMapInput,
    IssuedJoinToken,
    IssuedMqttCredentials,
    IssueJoinTokenInput,
    JoinActivity,
    MqttCredentialsInput,
    NodeRbacInput,
    NodeStatus,
    TokenRef,
)


class FakeJoinActivities:
    """Records every call in order; `failures` makes an activity raise what it maps to."""

    def __init__(self, *, ready_after_polls: int | None = 1) -> None:
        self.calls: list[str] = []
        self.failures: dict[JoinActivity, Callable[[], Exception]] = {}
        self.ready_after_polls = ready_after_polls
        self.polls = 0
        # A step named here waits for its event before it returns (set it to let it finish).
        self.holds: dict[JoinActivity, asyncio.Event] = {}

    def fail(self, name: JoinActivity, *, retryable: bool = False) -> None:
        self.failures[name] = lambda: ApplicationError(
            f"{name.value} exploded", type="KubernetesRejected", non_retryable=not retryable
        )

    def _enter(self, name: JoinActivity) -> None:
        self.calls.append(name.value)
        if name in self.failures:
            raise self.failures[name]()

    def all(self) -> list[Callable[..., Any]]:
        @activity.defn(name=JoinActivity.VALIDATE_JOIN)
        async def validate(inp: DeviceRef) -> None:
            self._enter(JoinActivity.VALIDATE_JOIN)

        @activity.defn(name=JoinActivity.ISSUE_JOIN_TOKEN)
        async def issue(inp: IssueJoinTokenInput) -> IssuedJoinToken:
            self._enter(JoinActivity.ISSUE_JOIN_TOKEN)
            return IssuedJoinToken(
                token_id=inp.token_id, sealed_token="sealed", expires_at=inp.expires_at
            )

        @activity.defn(name=JoinActivity.REVOKE_JOIN_TOKEN)
        async def revoke(inp: TokenRef) -> None:
            self._enter(JoinActivity.REVOKE_JOIN_TOKEN)

        @activity.defn(name=JoinActivity.APPLY_EDGECORE_CONFIGMAP)
        async def apply_cm(inp: EdgecoreConfigMapInput) -> ObjectRef:
            self._enter(JoinActivity.APPLY_EDGECORE_CONFIGMAP)
            return ObjectRef(namespace=inp.namespace, name=f"edgecore-config-{inp.node_name}")

        @activity.defn(name=JoinActivity.DELETE_EDGECORE_CONFIGMAP)
        async def delete_cm(inp: ObjectRef) -> None:
            self._enter(JoinActivity.DELETE_EDGECORE_CONFIGMAP)

        @activity.defn(name=JoinActivity.APPLY_DEVICE_RESOURCE)
        async def apply_device(inp: DeviceResourceInput) -> ObjectRef:
            self._enter(JoinActivity.APPLY_DEVICE_RESOURCE)
            return ObjectRef(namespace=inp.namespace, name=inp.device_id)

        @activity.defn(name=JoinActivity.DELETE_DEVICE_RESOURCE)
        async def delete_device(inp: ObjectRef) -> None:
            self._enter(JoinActivity.DELETE_DEVICE_RESOURCE)

        @activity.defn(name=JoinActivity.APPLY_NODE_RBAC)
        async def apply_rbac(inp: NodeRbacInput) -> None:
            self._enter(JoinActivity.APPLY_NODE_RBAC)
            if JoinActivity.APPLY_NODE_RBAC in self.holds:
                await self.holds[JoinActivity.APPLY_NODE_RBAC].wait()

        @activity.defn(name=JoinActivity.DELETE_NODE_RBAC)
        async def delete_rbac(inp: NodeRbacInput) -> None:
            self._enter(JoinActivity.DELETE_NODE_RBAC)

        @activity.defn(name=JoinActivity.RECORD_DEVICE)
        async def record(inp: DeviceRecordInput) -> None:
            self._enter(JoinActivity.RECORD_DEVICE)

        @activity.defn(name=JoinActivity.DELETE_DEVICE_RECORD)
        async def delete_record(inp: DeviceRef) -> None:
            self._enter(JoinActivity.DELETE_DEVICE_RECORD)

        @activity.defn(name=JoinActivity.ISSUE_MQTT_CREDENTIALS)
        async def issue_mqtt(inp: MqttCredentialsInput) -> IssuedMqttCredentials:
            self._enter(JoinActivity.ISSUE_MQTT_CREDENTIALS)
            return IssuedMqttCredentials(username=inp.device_id, sealed_password="sealed-mqtt")

        @activity.defn(name=JoinActivity.REVOKE_MQTT_CREDENTIALS)
        async def revoke_mqtt(inp: MqttCredentialsInput) -> None:
            self._enter(JoinActivity.REVOKE_MQTT_CREDENTIALS)

        @activity.defn(name=JoinActivity.NOTIFY_DEVICE_PROVISIONED)
        async def notify(inp: DeviceRef) -> None:
            self._enter(JoinActivity.NOTIFY_DEVICE_PROVISIONED)

        @activity.defn(name=JoinActivity.READ_NODE_STATUS)
        async def node_status(inp: NodeRef) -> NodeStatus:
            self._enter(JoinActivity.READ_NODE_STATUS)
            self.polls += 1
            ready = self.ready_after_polls is not None and self.polls >= self.ready_after_polls
            return NodeStatus(exists=ready, ready=ready)

        @activity.defn(name=JoinActivity.COMPLETE_JOIN)
        async def complete(inp: CompleteJoinInput) -> None:
            self._enter(JoinActivity.COMPLETE_JOIN)

        # The real runner of the forward steps, over these stand-ins.
        provisioner = JoinProvisioner(
            {
                JoinActivity.VALIDATE_JOIN: validate,
                JoinActivity.ISSUE_JOIN_TOKEN: issue,
                JoinActivity.APPLY_EDGECORE_CONFIGMAP: apply_cm,
                JoinActivity.APPLY_DEVICE_RESOURCE: apply_device,
                JoinActivity.APPLY_NODE_RBAC: apply_rbac,
                JoinActivity.RECORD_DEVICE: record,
                JoinActivity.ISSUE_MQTT_CREDENTIALS: issue_mqtt,
                JoinActivity.NOTIFY_DEVICE_PROVISIONED: notify,
            }
        )
        return [
            validate, issue, revoke, apply_cm, delete_cm, apply_device, delete_device,
            apply_rbac, delete_rbac, record, delete_record, issue_mqtt, revoke_mqtt, notify,
            node_status, complete, provisioner.provision_device,
        ]  # fmt: skip
