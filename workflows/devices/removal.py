"""DeviceRemovalWorkflow: take a device out of the cluster and the inventory.

Steps, in order: cancel a join still in flight and wait for it to undo itself → Device
custom resource → edgecore ConfigMap → RBAC → Node (edge nodes only) → tokens →
inventory row (tokens include the device's MQTT account: the broker's client, the Secret
holding it and its hash). Every step is idempotent (a delete of what is gone is done),
so the removal simply repeats what a cancelled join already undid and mops up what it
left: a Node that had registered, tokens, the row. Nothing is compensated: a deletion
cannot be taken back. The row goes last, so a removal that fails leaves the device
listed and can be retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts import summaries
from workflows.contracts.common import (
    DEVICE_ID,
    NODE_NAME,
    REMOVAL_FAILED,
    STAGE,
    DeviceRef,
    NodeRef,
    ObjectRef,
)
from workflows.contracts.devices import (
    DEVICE_REMOVAL_WORKFLOW,
    REMOVAL_PROGRESS_QUERY,
    DeviceRemovalInput,
    NodeDeletion,
    RemovalFailure,
    RemovalProgress,
    RemovalStep,
    RevokeDeviceTokensInput,
    RevokedTokens,
    cancel_join_run,
    delete_node,
    revoke_device_tokens,
)
from workflows.contracts.join import (
    NodeRbacInput,
    delete_device_record,
    delete_device_resource,
    delete_edgecore_configmap,
    delete_node_rbac,
    edgecore_configmap_name,
)

STEP_TIMEOUT = timedelta(seconds=30)
# A join undoing itself makes several Kubernetes calls, each retried patiently.
CANCEL_TIMEOUT = timedelta(minutes=10)
HEARTBEAT = timedelta(seconds=30)
# Transient failures (API server down, 5xx) are retried for up to an hour per step;
# a final answer (403, 422) ends the run at once with the steps done so far.
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=0)
PATIENCE = timedelta(hours=1)

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

# The CloudCore document's wording for the actions it lists, and ours for the others.
ACTION_JOIN_CANCELLED = "Join run cancelled"
ACTION_DEVICE = "Device CRD deleted"
ACTION_CONFIGMAP = "ConfigMap deleted"
ACTION_RBAC = "RBAC removed"
ACTION_NODE = "Node removed from cluster"
ACTION_NODE_KEPT = "Node kept: not an edge node"
ACTION_TOKENS = "Token revoked"
ACTION_RECORD = "Inventory record deleted"


class _StepFailed(Exception):
    def __init__(self, step: RemovalStep, cause: BaseException) -> None:
        super().__init__(step.value)
        self.step = step
        if isinstance(cause, ApplicationError):
            self.error_type, self.message = cause.type or "ApplicationError", cause.message
        else:
            self.error_type, self.message = type(cause).__name__, str(cause)


@workflow.defn(name=DEVICE_REMOVAL_WORKFLOW)
class DeviceRemovalWorkflow:
    @workflow.init
    def __init__(self, inp: DeviceRemovalInput) -> None:
        self._progress = RemovalProgress(
            device_id=inp.device_id, node_name=inp.node_name, stage="starting"
        )

    @workflow.run
    async def run(self, inp: DeviceRemovalInput) -> RemovalProgress:
        workflow.upsert_search_attributes(
            [DEVICE_ID.value_set(inp.device_id), NODE_NAME.value_set(inp.node_name)]
        )
        device = DeviceRef(device_id=inp.device_id, node_name=inp.node_name)
        try:
            await self._steps(inp, device)
        except _StepFailed as failed:
            failure = RemovalFailure(
                step=failed.step, error_type=failed.error_type, message=failed.message
            )
            self._update(stage="failed", failure=failure)
            raise ApplicationError(
                f"removal of {inp.device_id} failed at {failed.step.value}: {failed.message}",
                self._progress.model_dump(mode="json"),
                type=REMOVAL_FAILED,
                non_retryable=True,
            ) from None
        self._update(stage="removed", finished=True)
        return self._progress

    @workflow.query(name=REMOVAL_PROGRESS_QUERY)
    def progress(self) -> RemovalProgress:
        return self._progress

    async def _steps(self, inp: DeviceRemovalInput, device: DeviceRef) -> None:
        cancelled: bool = await self._step(
            RemovalStep.CANCEL_JOIN,
            cancel_join_run,
            device,
            within=CANCEL_TIMEOUT,
            action=lambda done: ACTION_JOIN_CANCELLED if done else None,
        )
        self._update(join_cancelled=cancelled)
        await self._step(
            RemovalStep.DELETE_DEVICE_RESOURCE,
            delete_device_resource,
            ObjectRef(namespace=inp.device_namespace, name=inp.device_id),
            action=lambda _: ACTION_DEVICE,
        )
        await self._step(
            RemovalStep.DELETE_CONFIGMAP,
            delete_edgecore_configmap,
            ObjectRef(
                namespace=inp.kubeedge_namespace, name=edgecore_configmap_name(inp.node_name)
            ),
            action=lambda _: ACTION_CONFIGMAP,
        )
        await self._step(
            RemovalStep.DELETE_RBAC,
            delete_node_rbac,
            NodeRbacInput(node_name=inp.node_name, namespace=inp.kubeedge_namespace),
            action=lambda _: ACTION_RBAC,
        )
        await self._step(
            RemovalStep.DELETE_NODE,
            delete_node,
            NodeRef(node_name=inp.node_name),
            action=lambda node: ACTION_NODE_KEPT if node == NodeDeletion.NOT_EDGE else ACTION_NODE,
        )
        revoked: RevokedTokens = await self._step(
            RemovalStep.REVOKE_TOKENS,
            revoke_device_tokens,
            RevokeDeviceTokensInput(
                device_id=inp.device_id,
                node_name=inp.node_name,
                node_id=inp.node_id,
                kubeedge_namespace=inp.kubeedge_namespace,
            ),
            action=lambda _: ACTION_TOKENS,
        )
        self._update(tokens_revoked=revoked)
        await self._step(
            RemovalStep.DELETE_RECORD,
            delete_device_record,
            device,
            action=lambda _: ACTION_RECORD,
        )

    async def _step(
        self,
        step: RemovalStep,
        stub: Callable[[ArgT], Awaitable[ResultT]],
        arg: ArgT,
        *,
        action: Callable[[ResultT], str | None],
        within: timedelta = STEP_TIMEOUT,
    ) -> ResultT:
        self._update(stage=step.value)
        try:
            result = await workflow.execute_activity(
                stub,
                arg,
                summary=summaries.activity_summary(stub, arg),
                start_to_close_timeout=within,
                schedule_to_close_timeout=PATIENCE,
                heartbeat_timeout=HEARTBEAT if within > STEP_TIMEOUT else None,
                retry_policy=RETRY,
            )
        except ActivityError as err:
            raise _StepFailed(step, err.cause or err) from err
        said = action(result)
        actions = [*self._progress.actions_taken, *([said] if said else [])]
        self._update(steps_done=[*self._progress.steps_done, step], actions_taken=actions)
        return result

    def _update(self, **changes: Any) -> None:
        if "stage" in changes:
            workflow.upsert_search_attributes([STAGE.value_set(changes["stage"])])
        self._progress = self._progress.model_copy(update=changes)
