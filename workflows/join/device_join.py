"""DeviceJoinWorkflow: provision one edge device as a saga, then wait for its node.

Steps, each undone in reverse when a later one fails, the token expires or the run is
cancelled: issue a per-node join token [revoke] → edgecore ConfigMap [delete] → Device
custom resource [delete] → RBAC for the node [delete] → inventory row [delete] → the
device's MQTT account and the Secret that holds it [delete both] → notify over MQTT →
wait, durably, for the Node to register and turn Ready until the token expires. The
`provisioned` update answers the API as soon as provisioning is done.

The forward steps run in one local activity, provision_device, which says which steps it
did and which one failed; each undo is a local activity of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    is_cancelled_exception,
)
from temporalio.workflow import ActivityCancellationType

# Shared, immutable models: imported once, not again inside every run's sandbox.
with workflow.unsafe.imports_passed_through():
    from workflows.contracts import summaries
    from workflows.contracts.common import (
        DEVICE_ID,
        JOIN_FAILED,
        NODE_NAME,
        STAGE,
        DeviceRef,
        ErrorType,
        NodeRef,
        ObjectRef,
    )
    from workflows.contracts.join import (
        DEVICE_JOIN_WORKFLOW,
        JOIN_NODE_READY_SIGNAL,
        JOIN_PROGRESS_QUERY,
        JOIN_PROVISIONED_UPDATE,
        BatchDeviceResult,
        CompleteJoinInput,
        DeviceJoinInput,
        DeviceRecordInput,
        DeviceResourceInput,
        EdgecoreConfigMapInput,
        IssuedJoinToken,
        IssuedMqttCredentials,
        IssueJoinTokenInput,
        JoinFailure,
        JoinProgress,
        JoinStatus,
        JoinStep,
        JoinSteps,
        MqttCredentialsInput,
        NodeRbacInput,
        NodeStatus,
        ProvisionDeviceInput,
        ProvisionOutcome,
        RecordBatchResultsInput,
        StepFailure,
        TokenRef,
        complete_join,
        delete_device_record,
        delete_device_resource,
        delete_edgecore_configmap,
        delete_node_rbac,
        edgecore_configmap_name,
        provision_device,
        read_node_status,
        record_batch_results,
        revoke_join_token,
        revoke_mqtt_credentials,
    )

# Forward steps give up after a few tries so the caller hears about a failure in seconds;
# compensations keep trying for a day, because leaving debris behind is worse than waiting.
STEP_TIMEOUT = timedelta(seconds=30)
FORWARD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5)
PATIENT_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=0)
PATIENCE = timedelta(days=1)
# Room for every forward step's own timeout (activities/join/provisioning.py).
PROVISION_TIMEOUT = timedelta(minutes=4)
# Polls of the Node are capped so that even a 30-day token stays far below history limits.
MAX_NODE_POLLS = 1000
# What each forward step sets in the seed's `steps` block once it is done.
STEP_FLAGS = {
    JoinStep.ISSUE_TOKEN: "token_generated",
    JoinStep.CREATE_CONFIGMAP: "configmap_created",
    JoinStep.CREATE_DEVICE: "device_crd_created",
    JoinStep.CONFIGURE_RBAC: "rbac_configured",
    JoinStep.RECORD_INVENTORY: "inventory_recorded",
    JoinStep.NOTIFY: "notified",
}

Undo = Callable[[], Awaitable[Any]]
ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


class JoinFailed(Exception):
    """A step failed for good; carries what the API reports."""

    def __init__(
        self, step: JoinStep, *, error_type: str, message: str, maybe_applied: bool
    ) -> None:
        super().__init__(f"{step.value} failed")
        self.step = step
        self.error_type, self.message = error_type, message
        self.maybe_applied = maybe_applied

    @classmethod
    def caused_by(cls, step: JoinStep, cause: BaseException) -> JoinFailed:
        error_type, message = _describe(cause)
        # Only a failure Kubernetes or the store answered for sure (non-retryable) proves
        # the step changed nothing; after timeouts the object may exist and is undone too.
        return cls(step, error_type=error_type, message=message, maybe_applied=not _is_final(cause))

    @classmethod
    def refused(cls, failure: StepFailure) -> JoinFailed:
        return cls(
            failure.step,
            error_type=failure.error_type,
            message=failure.message,
            maybe_applied=failure.maybe_applied,
        )


# Outside the sandbox: in bench/batch_join.py the worker spent 43% of its time in workflow
# activations, most of it re-importing this module per run and going through the
# sandbox's proxies for every payload; unsandboxed, activations fell to 19%. Determinism is kept
# by the import rules (no I/O library may be imported here, .importlinter) and checked by
# replaying recorded histories (tests/workflows/join/test_replay.py).
@workflow.defn(name=DEVICE_JOIN_WORKFLOW, sandboxed=False)
class DeviceJoinWorkflow:
    @workflow.init
    def __init__(self, inp: DeviceJoinInput) -> None:
        self._inp = inp
        self._status = JoinStatus.PROVISIONING
        self._stage: str = JoinStep.VALIDATE.value
        self._steps = JoinSteps()
        self._token: IssuedJoinToken | None = None
        self._mqtt: IssuedMqttCredentials | None = None
        self._failure: JoinFailure | None = None
        self._node_ready_at: datetime | None = None
        self._node_signalled = False
        self._compensations: list[tuple[JoinStep, Undo]] = []

    @workflow.run
    async def run(self, inp: DeviceJoinInput) -> JoinProgress:
        # Stage is upserted at milestones only: every upsert is an event and a visibility
        # write, and the steps show as markers in the UI anyway.
        if workflow.info().typed_search_attributes.get(STAGE) is None:
            # The API and BatchJoin set these when they start the run; others may not.
            workflow.upsert_search_attributes(
                [
                    DEVICE_ID.value_set(inp.device_id),
                    NODE_NAME.value_set(inp.node_name),
                    STAGE.value_set(JoinStatus.PROVISIONING.value),
                ]
            )
        try:
            reported = await self._provision()
            self._status = JoinStatus.WAITING_FOR_NODE
            if not reported:
                await self._report(BatchDeviceResult(device_id=inp.device_id, succeeded=True))
            if await self._wait_for_node():
                await self._step(JoinStep.WAIT_FOR_NODE, self._complete())
                self._status = JoinStatus.JOINED
                self._set_stage(JoinStatus.JOINED.value)
            else:
                await self._compensate()
                self._status = JoinStatus.EXPIRED
                self._set_stage(JoinStatus.EXPIRED.value)
        except JoinFailed as failed:
            compensated = await self._compensate()
            self._failure = JoinFailure(
                step=failed.step,
                error_type=failed.error_type,
                message=failed.message,
                compensated=compensated,
            )
            self._status = JoinStatus.FAILED
            self._set_stage(JoinStatus.FAILED.value)
            await self._report(
                BatchDeviceResult(
                    device_id=inp.device_id,
                    succeeded=False,
                    failed_step=failed.step.value,
                    error=failed.message,
                )
            )
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise ApplicationError(
                f"{failed.step.value} failed: {failed.message}",
                self._failure.model_dump(mode="json"),
                type=JOIN_FAILED,
                non_retryable=True,
            ) from None
        except asyncio.CancelledError:
            self._set_stage("cancelling")
            await self._compensate()
            self._status = JoinStatus.CANCELLED
            self._set_stage(JoinStatus.CANCELLED.value)
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress()

    # --- messages ------------------------------------------------------------------

    @workflow.query(name=JOIN_PROGRESS_QUERY)
    def progress(self) -> JoinProgress:
        inp = self._inp
        return JoinProgress(
            device_id=inp.device_id,
            node_name=inp.node_name,
            status=self._status,
            stage=self._stage,
            steps=self._steps,
            fingerprint=inp.fingerprint,
            configmap_name=edgecore_configmap_name(inp.node_name)
            if self._steps.configmap_created
            else None,
            device_resource_name=inp.device_id if self._steps.device_crd_created else None,
            sealed_token=self._token.sealed_token if self._token else None,
            token_expires_at=self._token.expires_at if self._token else None,
            cloudcore_host=inp.cloudcore_host,
            cloudcore_port=inp.cloudcore_port,
            kubeedge_version=inp.kubeedge_version,
            node_ready_at=self._node_ready_at,
            failure=self._failure,
            mqtt_username=self._mqtt.username if self._mqtt else None,
            sealed_mqtt_password=self._mqtt.sealed_password if self._mqtt else None,
        )

    @workflow.update(name=JOIN_PROVISIONED_UPDATE)
    async def provisioned(self, fingerprint: str) -> JoinProgress:
        """Wait until provisioning is done (or failed) and say how it went."""
        await workflow.wait_condition(lambda: self._status != JoinStatus.PROVISIONING)
        return self.progress()

    @provisioned.validator
    def _same_request(self, fingerprint: str) -> None:
        if fingerprint != self._inp.fingerprint:
            raise ApplicationError(
                f"device {self._inp.device_id} is already being joined with another request",
                type=ErrorType.CONFLICT,
            )

    @workflow.signal(name=JOIN_NODE_READY_SIGNAL)
    def node_ready(self) -> None:
        self._node_signalled = True

    async def _report(self, result: BatchDeviceResult) -> None:
        """Tell the batch that started this join how provisioning went: the batch reads
        its joins' results from the store. A step like the others, retried patiently."""
        if self._inp.batch_id is None:
            return
        record = RecordBatchResultsInput(batch_id=self._inp.batch_id, results=[result])
        await self._patiently(record_batch_results, record)

    # --- saga ------------------------------------------------------------------------

    async def _provision(self) -> bool:
        """Every forward step in one local activity; True when it told the batch too."""
        self._stage = JoinStatus.PROVISIONING.value  # no finer: the steps run as one
        plan = self._plan()
        call = self._call(
            provision_device,
            plan,
            start_to_close_timeout=PROVISION_TIMEOUT,
            retry_policy=FORWARD_RETRY,
        )
        provisioning = asyncio.create_task(self._settle(plan, call))
        try:
            outcome: ProvisionOutcome = await asyncio.shield(provisioning)
        except asyncio.CancelledError:
            # Let the steps under way finish, so that exactly what they did is undone.
            with contextlib.suppress(JoinFailed, asyncio.CancelledError):
                self._take(plan, await provisioning)
            raise
        self._take(plan, outcome)
        if outcome.failure is not None:
            raise JoinFailed.refused(outcome.failure)
        return outcome.reported

    async def _settle(
        self, plan: ProvisionDeviceInput, provisioning: Awaitable[ProvisionOutcome]
    ) -> ProvisionOutcome:
        """The outcome; or, when the run failed, take what its details say was done and
        raise JoinFailed."""
        try:
            return await provisioning
        except FailureError as err:
            if is_cancelled_exception(err):
                raise asyncio.CancelledError from err
            cause = _cause(err)
            details = (
                cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
            )
            if not isinstance(details, dict) or "step" not in details:
                # No details: nothing is known to be done. Only the token is this run's
                # alone to revoke; the other objects may belong to an earlier join.
                revoke = self._undo_of(JoinStep.ISSUE_TOKEN, plan)
                assert revoke is not None
                self._compensations.append((JoinStep.ISSUE_TOKEN, revoke))
                raise JoinFailed.caused_by(JoinStep.VALIDATE, cause) from err
            step = JoinStep(details["step"])
            self._take(plan, ProvisionOutcome(done=[JoinStep(d) for d in details["done"]]))
            failed = JoinFailed.caused_by(step, cause)
            undo = self._undo_of(step, plan)
            if undo is not None and failed.maybe_applied:
                self._compensations.append((step, undo))
            raise failed from err

    def _take(self, plan: ProvisionDeviceInput, outcome: ProvisionOutcome) -> None:
        """Record the steps done: their flags, the token, and the undo of each."""
        for step in outcome.done:
            if step in STEP_FLAGS:
                self._steps = self._steps.model_copy(update={STEP_FLAGS[step]: True})
            undo = self._undo_of(step, plan)
            if undo is not None:
                self._compensations.append((step, undo))
        if outcome.token is not None:
            self._token = outcome.token
        if outcome.mqtt is not None:
            self._mqtt = outcome.mqtt

    def _undo_of(self, step: JoinStep, plan: ProvisionDeviceInput) -> Undo | None:
        match step:
            case JoinStep.ISSUE_TOKEN:
                token_ref = TokenRef(token_id=plan.token.token_id)
                return lambda: self._undo(revoke_join_token, token_ref)
            case JoinStep.CREATE_CONFIGMAP:
                cm_ref = ObjectRef(
                    namespace=plan.configmap.namespace,
                    name=edgecore_configmap_name(plan.configmap.node_name),
                )
                return lambda: self._undo(delete_edgecore_configmap, cm_ref)
            case JoinStep.CREATE_DEVICE:
                dev_ref = ObjectRef(namespace=plan.device.namespace, name=plan.device.device_id)
                return lambda: self._undo(delete_device_resource, dev_ref)
            case JoinStep.CONFIGURE_RBAC:
                return lambda: self._undo(delete_node_rbac, plan.rbac)
            case JoinStep.RECORD_INVENTORY:
                return lambda: self._undo(delete_device_record, plan.validate_join)
            case JoinStep.ISSUE_MQTT_CREDENTIALS if plan.mqtt is not None:
                mqtt = plan.mqtt
                return lambda: self._undo(revoke_mqtt_credentials, mqtt)
            case _:
                return None

    def _plan(self) -> ProvisionDeviceInput:
        inp = self._inp
        ref = DeviceRef(device_id=inp.device_id, node_name=inp.node_name)
        batch_result = None
        if inp.batch_id is not None:
            done = BatchDeviceResult(device_id=inp.device_id, succeeded=True)
            batch_result = RecordBatchResultsInput(batch_id=inp.batch_id, results=[done])
        token = self._token_input()
        # Keyed by the token's ID: no further random draw, so replays of runs started
        # before MQTT accounts draw the same values.
        mqtt = MqttCredentialsInput(
            device_id=inp.device_id,
            node_name=inp.node_name,
            namespace=inp.kubeedge_namespace,
            credential_id=token.token_id,
        )
        return ProvisionDeviceInput(
            validate_join=ref,
            token=token,
            configmap=self._configmap_input(),
            device=self._device_input(),
            rbac=self._rbac_input(),
            record=self._record_input(),
            notify=ref,
            batch_result=batch_result,
            mqtt=mqtt,
        )

    def _token_input(self) -> IssueJoinTokenInput:
        inp = self._inp
        return IssueJoinTokenInput(
            device_id=inp.device_id,
            node_name=inp.node_name,
            token_id=str(workflow.uuid4()),
            expires_at=workflow.now() + timedelta(seconds=inp.token_ttl_seconds),
            kubeedge_namespace=inp.kubeedge_namespace,
            description=f"join of device {inp.device_id}",
        )

    def _configmap_input(self) -> EdgecoreConfigMapInput:
        inp = self._inp
        return EdgecoreConfigMapInput(
            device_id=inp.device_id,
            node_name=inp.node_name,
            namespace=inp.kubeedge_namespace,
            cloudcore_host=inp.cloudcore_host,
            cloudcore_port=inp.cloudcore_port,
            device_type=inp.device_type,
            location=inp.location,
            configuration=inp.configuration,
        )

    def _device_input(self) -> DeviceResourceInput:
        inp = self._inp
        return DeviceResourceInput(
            device_id=inp.device_id,
            node_name=inp.node_name,
            namespace=inp.device_namespace,
            device_type=inp.device_type,
            location=inp.location,
        )

    def _rbac_input(self) -> NodeRbacInput:
        return NodeRbacInput(node_name=self._inp.node_name, namespace=self._inp.kubeedge_namespace)

    def _record_input(self) -> DeviceRecordInput:
        inp = self._inp
        return DeviceRecordInput(
            device_id=inp.device_id,
            node_name=inp.node_name,
            device_type=inp.device_type,
            location=inp.location,
            configuration=inp.configuration,
            status=JoinStatus.WAITING_FOR_NODE.value,
            workflow_id=workflow.info().workflow_id,
        )

    async def _wait_for_node(self) -> bool:
        """True once the Node is Ready; False when the join token expires first."""
        self._set_stage(JoinStep.WAIT_FOR_NODE.value)
        assert self._token is not None
        deadline = self._token.expires_at
        ttl = float(self._inp.token_ttl_seconds)
        interval = self._inp.node_poll_initial_seconds
        longest = max(self._inp.node_poll_max_seconds, ttl / MAX_NODE_POLLS)
        node_ref = NodeRef(node_name=self._inp.node_name)
        # A Node cannot be Ready for a token issued a moment ago: wait before the first look.
        look_first = False
        while True:
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return False
            if look_first:
                # A hint that comes while we look is kept for the next wait.
                self._node_signalled = False
                if await self._node_is_ready(node_ref, within=timedelta(seconds=remaining)):
                    self._node_ready_at = workflow.now()
                    return True
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return False
            try:
                await workflow.wait_condition(
                    lambda: self._node_signalled, timeout=min(interval, remaining)
                )
            except TimeoutError:
                interval = min(interval * 2, longest)
            look_first = True

    async def _node_is_ready(self, node_ref: NodeRef, *, within: timedelta) -> bool:
        # An unreachable cluster is not a failed join: keep looking until the token expires.
        try:
            # A read has nothing to stop: on cancel, abandon it instead of asking the
            # server to cancel a task that may have just finished.
            status: NodeStatus = await self._patiently(
                read_node_status,
                node_ref,
                within=within,
                on_cancel=ActivityCancellationType.ABANDON,
            )
        except FailureError as err:
            if is_cancelled_exception(err):
                raise asyncio.CancelledError from err
            if _is_final(_cause(err)):
                raise JoinFailed.caused_by(JoinStep.WAIT_FOR_NODE, _cause(err)) from err
            return False
        return status.ready

    async def _complete(self) -> None:
        assert self._token is not None
        done = CompleteJoinInput(
            device_id=self._inp.device_id,
            node_name=self._inp.node_name,
            token_id=self._token.token_id,
        )
        await self._patiently(complete_join, done)

    async def _step(self, step: JoinStep, action: Awaitable[Any], undo: Undo | None = None) -> Any:
        self._stage = step.value  # the progress query still shows the current step
        try:
            result = await action
        except FailureError as err:
            if is_cancelled_exception(err):
                raise asyncio.CancelledError from err
            failed = JoinFailed.caused_by(step, _cause(err))
            if undo is not None and failed.maybe_applied:
                self._compensations.append((step, undo))
            raise failed from err
        if undo is not None:
            self._compensations.append((step, undo))
        return result

    async def _compensate(self) -> list[JoinStep]:
        """Undo the applied steps in reverse; returns the steps undone, in that order."""
        undone: list[JoinStep] = []
        while self._compensations:
            step, undo = self._compensations.pop()
            await undo()
            undone.append(step)
        return undone

    # --- activity calls ---------------------------------------------------------------

    async def _patiently(
        self,
        stub: Callable[[ArgT], Awaitable[ResultT]],
        arg: ArgT,
        within: timedelta = PATIENCE,
        on_cancel: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    ) -> ResultT:
        """For steps that must not give up early: undoing, finishing, looking for the node."""
        return await self._call(
            stub,
            arg,
            start_to_close_timeout=STEP_TIMEOUT,
            schedule_to_close_timeout=within,
            retry_policy=PATIENT_RETRY,
            cancellation_type=on_cancel,
        )

    def _undo(self, stub: Callable[[ArgT], Awaitable[None]], arg: ArgT) -> Awaitable[None]:
        return self._patiently(stub, arg)

    async def _call(
        self,
        stub: Callable[[ArgT], Awaitable[ResultT]],
        arg: ArgT,
        *,
        start_to_close_timeout: timedelta,
        retry_policy: RetryPolicy,
        # The SDK's defaults, for the calls that do not set them.
        schedule_to_close_timeout: timedelta | None = None,
        cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    ) -> ResultT:
        # Local activities run the steps in this worker and record them as markers: the
        # same steps and compensation, visible per step in the UI, without a task round
        # trip through the server for each one (the join's main cost, see bench/).
        return await workflow.execute_local_activity(
            stub,
            arg,
            summary=summaries.activity_summary(stub, arg),
            start_to_close_timeout=start_to_close_timeout,
            schedule_to_close_timeout=schedule_to_close_timeout,
            retry_policy=retry_policy,
            cancellation_type=cancellation_type,
        )

    def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])


def _cause(err: FailureError) -> BaseException:
    # A regular activity's failure arrives wrapped in ActivityError; a local one's may not.
    if isinstance(err, ActivityError) and err.cause is not None:
        return err.cause
    return err


def _is_final(cause: BaseException) -> bool:
    return isinstance(cause, ApplicationError) and cause.non_retryable


def _describe(cause: BaseException) -> tuple[str, str]:
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError", cause.message
    if is_cancelled_exception(cause):
        return "Cancelled", "the step was cancelled"
    return type(cause).__name__, str(cause) or type(cause).__name__
