"""The removal's own steps: stop a join in flight, delete the Node, revoke the tokens
(and the device's MQTT account).

The Kubernetes objects the join created are deleted by the join's own delete activities
(activities.join.kubernetes), which DeviceRemovalWorkflow calls by name.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.join.mqtt_credentials import MqttCredentialActivities
from adapters.kubernetes.client import REQUEST_TIMEOUT, KubeTarget
from adapters.kubernetes.errors import ignore_status, kube_errors
from adapters.kubernetes.reads import KubeReader, raw
from store.devices import node_tokens, tokens
from store.models import utcnow
from workflows.contracts.common import EDGE_ROLE_LABEL, DeviceRef, NodeRef
from workflows.contracts.devices import (
    DevicesActivity,
    NodeDeletion,
    RevokeDeviceTokensInput,
    RevokedTokens,
)
from workflows.contracts.join import device_join_workflow_id

# How often to look whether the cancelled join has finished undoing its steps.
JOIN_POLL = timedelta(seconds=1)


class RemovalActivities:
    def __init__(
        self,
        *,
        target: KubeTarget,
        sessions: async_sessionmaker[AsyncSession],
        mqtt: MqttCredentialActivities | None = None,
        kubeedge_namespace: str = "kubeedge",
    ) -> None:
        self._reader = KubeReader(target=target)
        self._sessions = sessions
        self._mqtt = mqtt
        self._kubeedge_namespace = kubeedge_namespace

    @activity.defn(name=DevicesActivity.CANCEL_JOIN_RUN)
    async def cancel_join_run(self, inp: DeviceRef) -> bool:
        """Cancel the device's running join and wait until it has undone its steps.

        True when a run was cancelled; False when none was running (finished or never
        started). Waiting matters: the join's compensation deletes what it created, and
        the removal's own deletes must come after it, not race it.
        """
        handle = activity.client().get_workflow_handle(device_join_workflow_id(inp.device_id))
        try:
            described = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        if described.status != WorkflowExecutionStatus.RUNNING:
            return False
        await handle.cancel()
        # Poll rather than wait on the result with a timeout: a result call cut short by
        # the timeout can leave a time-skipping test server's lock count off for good.
        while described.status == WorkflowExecutionStatus.RUNNING:
            activity.heartbeat()
            await asyncio.sleep(JOIN_POLL.total_seconds())
            described = await handle.describe()
        activity.logger.info("join of %s cancelled before removal", inp.device_id)
        return True

    @activity.defn(name=DevicesActivity.DELETE_NODE)
    def delete_node(self, ref: NodeRef) -> NodeDeletion:
        """Delete the device's Node, but only an edge node: never a cloud or control node."""
        core = self._reader.core
        with kube_errors(action="delete", kind="Node", name=ref.node_name), ignore_status(404):
            node = raw(core.read_node, ref.node_name)
            meta = node.get("metadata") or {}
            if EDGE_ROLE_LABEL not in (meta.get("labels") or {}):
                activity.logger.warning("Left Node %s alone: not an edge node", ref.node_name)
                return NodeDeletion.NOT_EDGE
            # The precondition makes a same-named Node registered since our read a 409.
            uid = meta.get("uid")
            options = {"preconditions": {"uid": uid}} if uid else None
            core.delete_node(ref.node_name, body=options, _request_timeout=REQUEST_TIMEOUT)
            activity.logger.info("Deleted Node %s", ref.node_name)
            return NodeDeletion.DELETED
        return NodeDeletion.ABSENT

    @activity.defn(name=DevicesActivity.REVOKE_DEVICE_TOKENS)
    async def revoke_device_tokens(self, inp: RevokeDeviceTokensInput) -> RevokedTokens:
        """Revoke the join tokens of the node and device, the node's security tokens and the
        device's MQTT account (which the broker then disconnects)."""
        if self._mqtt is not None:
            await self._mqtt.revoke(
                device_id=inp.device_id,
                node_name=inp.node_name,
                namespace=inp.kubeedge_namespace or self._kubeedge_namespace,
            )
        now = utcnow()
        async with self._sessions() as session, session.begin():
            joins = await tokens.revoke_active(
                session, now=now, node_name=inp.node_name, device_id=inp.device_id
            )
            nodes = 0
            if inp.node_id is not None:
                nodes = await node_tokens.revoke_tokens_of_node(
                    session, node_id=inp.node_id, now=now
                )
        return RevokedTokens(join_tokens=joins, node_tokens=nodes)
