"""Start or attach to a DeviceJoinWorkflow and wait for its provisioning answer.

The workflow ID is the business key `device-join/{device_id}`, so a repeated POST lands
on the same run (update-with-start, conflict policy USE_EXISTING) and gets the same
answer. The update's validator refuses a request whose fingerprint differs: 409. A device
in a batch gets the same fingerprint (`join_fingerprint`), so joining it singly after the
batch finds its run rather than a conflict.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from api.core.errors import ApiError, RunClosed
from api.core.runs import RunStart, ensure_same_request, request_fingerprint, update_with_start
from api.join.batch_schemas import BatchDeviceEntry
from api.join.schemas import JoinRequest
from store.settings import Settings
from workflows.contracts import summaries
from workflows.contracts.common import DEVICE_ID, NODE_NAME, STAGE
from workflows.contracts.join import (
    DEVICE_JOIN_WORKFLOW,
    JOIN_PROGRESS_QUERY,
    JOIN_PROVISIONED_UPDATE,
    DeviceJoinInput,
    JoinProgress,
    JoinStatus,
    device_join_workflow_id,
)

# What of a device's entry says which join was asked for; the options come separately.
_DEVICE_FIELDS = {"node_name", "device_id", "device_type", "location", "configuration"}


def join_fingerprint(
    device: JoinRequest | BatchDeviceEntry,
    *,
    cloud_ip: str | None,
    token_expiry_hours: float | None,
) -> str:
    """The identity of a device's join request, alone or in a batch.

    The device's fields and the options as asked, not as defaulted: the same request again
    is the same join even if the configured defaults changed meanwhile.
    """
    request = device.model_dump(mode="json", include=_DEVICE_FIELDS)
    request |= {"cloud_ip": cloud_ip, "token_expiry_hours": token_expiry_hours}
    return request_fingerprint(request)


def join_input(body: JoinRequest, settings: Settings, *, default_hours: float) -> DeviceJoinInput:
    host = body.cloud_ip or settings.cloudcore_address
    if host is None:
        raise ApiError(
            400,
            "cloud_ip is required: no default CloudCore address is configured",
            details={"cloud_ip": "required (or set EDGEWRIGHT_CLOUDCORE_ADDRESS)"},
        )
    hours = body.token_expiry_hours or default_hours
    return DeviceJoinInput(
        device_id=body.device_id,
        node_name=body.node_name,
        cloudcore_host=host,
        cloudcore_port=settings.cloudcore_port,
        device_type=body.device_type,
        location=body.location,
        configuration=body.configuration,
        token_ttl_seconds=max(1, round(hours * 3600)),
        kubeedge_version=settings.kubeedge_version,
        kubeedge_namespace=settings.kubeedge_namespace,
        device_namespace=settings.device_namespace,
        fingerprint=join_fingerprint(
            body, cloud_ip=body.cloud_ip, token_expiry_hours=body.token_expiry_hours
        ),
    )


async def join_device(
    client: Client, *, inp: DeviceJoinInput, task_queue: str, answer_timeout: float
) -> JoinProgress:
    """The run's answer once provisioned; RunConflict (409) when the device is being or was
    joined with another request, RunStillRunning when provisioning outlasts the timeout."""
    workflow_id = device_join_workflow_id(inp.device_id)
    details: dict[str, Any] = {"device_id": inp.device_id, "workflow_id": workflow_id}

    async def provisioned(reuse: WorkflowIDReusePolicy) -> JoinProgress:
        return await update_with_start(
            client,
            _run(inp, task_queue=task_queue, reuse=reuse),
            update=JOIN_PROVISIONED_UPDATE,
            fingerprint=inp.fingerprint,
            within=answer_timeout,
            details=details,
        )

    try:
        return await provisioned(WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)
    except RunClosed:
        pass  # a finished run holds the ID: joined, or expired and free to try again
    finished: JoinProgress = await client.get_workflow_handle(workflow_id).query(
        JOIN_PROGRESS_QUERY, result_type=JoinProgress
    )
    if finished.status == JoinStatus.JOINED:
        ensure_same_request(
            finished,
            inp.fingerprint,
            message=f"device {inp.device_id} is already joined with another request",
            details=details,
        )
        return finished
    return await provisioned(WorkflowIDReusePolicy.ALLOW_DUPLICATE)


def _run(
    inp: DeviceJoinInput, *, task_queue: str, reuse: WorkflowIDReusePolicy
) -> RunStart[JoinProgress]:
    return RunStart(
        workflow=DEVICE_JOIN_WORKFLOW,
        arg=inp,
        id=device_join_workflow_id(inp.device_id),
        summary=summaries.join_summary(inp.device_id, inp.node_name),
        task_queue=task_queue,
        result_type=JoinProgress,
        progress_query=JOIN_PROGRESS_QUERY,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse,
        search_attributes=[
            SearchAttributePair(DEVICE_ID, inp.device_id),
            SearchAttributePair(NODE_NAME, inp.node_name),
            SearchAttributePair(STAGE, JoinStatus.PROVISIONING.value),
        ],
        # A join lives at most until its token expires, plus time to clean up.
        execution_timeout=timedelta(seconds=inp.token_ttl_seconds) + timedelta(days=2),
    )
