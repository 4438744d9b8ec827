"""provision_device: a join's forward steps, in order, in one local activity.

The steps are the join activities themselves (token, ConfigMap, Device, RBAC, inventory
row, the device's MQTT account, notification), called in this process one after the
other. As separate local activities each step cost the worker an activation, a marker
and a payload round trip, which were most of a join's CPU (bench/batch_join.py); the
work itself is unchanged.

A step refused for good (a non-retryable ApplicationError) ends the run with an outcome
that names it, and the workflow undoes the steps done, in reverse. Any other error is
raised again with the failed step and the steps done in its details: Temporal retries the
whole run (every step is idempotent), and when the retries are spent the workflow still
knows what to undo. A transient Kubernetes failure (5xx, 429, a dropped connection) is
first retried here, for that step alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from functools import partial
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.webhooks.emitter import WebhookEmitter, run_key
from workflows.contracts.common import DeviceRef, TransientKubeError
from workflows.contracts.join import (
    BatchActivity,
    IssuedJoinToken,
    IssuedMqttCredentials,
    JoinActivity,
    JoinStep,
    ProvisionDeviceInput,
    ProvisionOutcome,
    StepFailure,
)
from workflows.contracts.webhooks import WebhookEvent

Step = Callable[[Any], Any]
# Each step's own limit, so that a hung step fails with details before the whole run's
# start-to-close timeout (which would say nothing about what was done) ends it.
STEP_TIMEOUT_SECONDS = 30.0
# The details of a retryable failure: which step failed and which were done before it.
FAILED_STEP = "step"
DONE_STEPS = "done"
# Pauses before a step's retries after a transient Kubernetes failure. Without them every
# 503 cost one of the run's five tries and re-did every step before it: with a fifth of
# the calls failing, 9 of 30 joins of a batch failed for good
# (tests/e2e/faults/test_kube_faults.py). The step's own timeout still bounds them.
STEP_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
_TRANSIENT = frozenset(TransientKubeError)


class JoinProvisioner:
    """Runs the forward steps with the implementations it is given, keyed by activity name."""

    def __init__(
        self,
        steps: Mapping[JoinActivity | BatchActivity, Step],
        *,
        executor: Executor | None = None,
        retry_delays: tuple[float, ...] = STEP_RETRY_DELAYS,
        webhooks: WebhookEmitter | None = None,
    ) -> None:
        self._steps = steps
        self._retry_delays = retry_delays
        self._webhooks = webhooks  # device_provisioned
        self._executor = executor  # for the sync steps (kubernetes, paho); None: the loop's

    async def _provisioned(self, device: DeviceRef) -> None:
        # Best effort here: a failure must not undo a join that is done. complete_join
        # emits the same event (same key, so one delivery) when the node turns Ready.
        if self._webhooks is None:
            return
        try:
            await self._webhooks.emit(
                WebhookEvent.DEVICE_PROVISIONED,
                key=run_key(device.device_id),
                data={"device_id": device.device_id, "node_name": device.node_name},
            )
        except Exception as err:
            activity.logger.warning("device_provisioned not emitted yet: %s", err)

    @activity.defn(name=JoinActivity.PROVISION_DEVICE)
    async def provision_device(self, inp: ProvisionDeviceInput) -> ProvisionOutcome:
        plan: list[tuple[JoinStep, JoinActivity, Any]] = [
            (JoinStep.VALIDATE, JoinActivity.VALIDATE_JOIN, inp.validate_join),
            (JoinStep.ISSUE_TOKEN, JoinActivity.ISSUE_JOIN_TOKEN, inp.token),
            (JoinStep.CREATE_CONFIGMAP, JoinActivity.APPLY_EDGECORE_CONFIGMAP, inp.configmap),
            (JoinStep.CREATE_DEVICE, JoinActivity.APPLY_DEVICE_RESOURCE, inp.device),
            (JoinStep.CONFIGURE_RBAC, JoinActivity.APPLY_NODE_RBAC, inp.rbac),
            (JoinStep.RECORD_INVENTORY, JoinActivity.RECORD_DEVICE, inp.record),
        ]
        if inp.mqtt is not None:
            plan.append(
                (JoinStep.ISSUE_MQTT_CREDENTIALS, JoinActivity.ISSUE_MQTT_CREDENTIALS, inp.mqtt)
            )
        plan.append((JoinStep.NOTIFY, JoinActivity.NOTIFY_DEVICE_PROVISIONED, inp.notify))
        done: list[JoinStep] = []
        token: IssuedJoinToken | None = None
        mqtt: IssuedMqttCredentials | None = None
        for step, name, arg in plan:
            try:
                async with asyncio.timeout(STEP_TIMEOUT_SECONDS):
                    result = await self._call_patiently(name, arg)
            except ApplicationError as err:
                if not err.non_retryable:
                    raise _retryable(step, done, err) from err
                failure = StepFailure(
                    step=step,
                    error_type=err.type or "ApplicationError",
                    message=err.message,
                    maybe_applied=False,
                )
                return ProvisionOutcome(done=done, token=token, mqtt=mqtt, failure=failure)
            except Exception as err:
                raise _retryable(step, done, err) from err
            if step == JoinStep.ISSUE_TOKEN:
                token = result
            elif step == JoinStep.ISSUE_MQTT_CREDENTIALS:
                mqtt = result
            done.append(step)
        await self._provisioned(inp.validate_join)
        if inp.batch_result is None:
            return ProvisionOutcome(done=done, token=token, mqtt=mqtt)
        # Written last: the batch counts the device once every step is done. Not a step:
        # if the store is away, the workflow reports later, patiently, from its own history.
        try:
            await self._call(BatchActivity.RECORD_BATCH_RESULTS, inp.batch_result)
        except Exception:
            activity.logger.warning("batch result not written; the join reports it later")
            return ProvisionOutcome(done=done, token=token, mqtt=mqtt)
        return ProvisionOutcome(done=done, token=token, mqtt=mqtt, reported=True)

    async def _call_patiently(self, name: JoinActivity | BatchActivity, arg: Any) -> Any:
        """`_call`, with a few quick retries of a transient Kubernetes failure."""
        for delay in self._retry_delays:
            try:
                return await self._call(name, arg)
            except ApplicationError as err:
                if err.non_retryable or err.type not in _TRANSIENT:
                    raise
                activity.logger.info("%s: %s, retrying the step", name.value, err.type)
                wait = err.next_retry_delay.total_seconds() if err.next_retry_delay else delay
            await asyncio.sleep(wait)
        return await self._call(name, arg)

    async def _call(self, name: JoinActivity | BatchActivity, arg: Any) -> Any:
        step = self._steps[name]
        if inspect.iscoroutinefunction(step):
            return await step(arg)
        # Sync steps block: run them on the worker's threads, in this activity's context so
        # that they still log as this activity.
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(context.run, step, arg))


def _retryable(step: JoinStep, done: list[JoinStep], err: Exception) -> ApplicationError:
    if isinstance(err, ApplicationError):
        error_type, message = err.type or "ApplicationError", err.message
    else:
        error_type, message = type(err).__name__, str(err) or type(err).__name__
    details = {FAILED_STEP: step.value, DONE_STEPS: [s.value for s in done]}
    return ApplicationError(f"{step.value}: {message}", details, type=error_type)
