"""CloudCore contract: batch join (`/api/kubeedge/batch-join`), at fleet scale.

JSON as in the seed, or YAML, or CSV (`Content-Type: text/csv`), or a file upload
(`multipart/form-data`, field `file`). Small batches answer with the seed's report once
provisioned; large ones answer 202 with where to follow them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from api.core.deps import (
    OperatorUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.core.pagination import PageDep
from api.core.state import app_sessions
from api.join.batch_report import batch_report
from api.join.batch_schemas import parse_document, validate_batch
from api.join.batch_service import batch_identity, start_batch, store_batch
from api.join.keadm import is_valid_host
from store.runtime_config import load_runtime_config
from workflows.contracts.join import (
    BATCH_CANCEL_SIGNAL,
    BATCH_PAUSE_SIGNAL,
    BATCH_RESUME_SIGNAL,
    BatchJoinDefaults,
    batch_join_workflow_id,
)

router = APIRouter(prefix="/api/kubeedge", tags=["batch join"])


# Options may also come as query parameters, for CSV and uploads that carry only devices.
_QUERY_OPTIONS = ("batch_id", "cloud_ip", "token_expiry_hours", "max_concurrency")


async def _document(request: Request) -> dict[str, Any]:
    document = await _body_document(request)
    for name in _QUERY_OPTIONS:
        if name in request.query_params:
            document[name] = request.query_params[name]
    return document


async def _body_document(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "application/json")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "Upload the device list as the form field `file`")
        name = (upload.filename or "").lower()
        kind = (
            "text/csv"
            if name.endswith(".csv")
            else "application/yaml"
            if name.endswith((".yaml", ".yml"))
            else upload.content_type or "application/json"
        )
        return parse_document(body=await upload.read(), content_type=kind)
    return parse_document(body=await request.body(), content_type=content_type)


_NOT_RUNNING: dict[int | str, dict[str, Any]] = {409: {"description": "The batch is not running"}}


@router.post(
    "/batch-join",
    status_code=200,
    responses={
        202: {
            "description": 'Large or slow batches: status "accepted", total, batch_id and '
            "status_url to follow it"
        },
        400: {"description": "Not a valid batch, or invalid entries (each named in details)"},
        409: {"description": "batch_id taken by another request with other devices or options"},
    },
)
async def batch_join(
    request: Request,
    user: OperatorUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Any:
    parsed = validate_batch(await _document(request), max_devices=settings.batch_max_devices)
    host = parsed.options.cloud_ip or settings.cloudcore_address
    if host is None or not is_valid_host(host):
        raise ApiError(
            400,
            "cloud_ip is required (no default CloudCore address is configured)"
            if host is None
            else "cloud_ip must be an IP address or a DNS name",
            details={"cloud_ip": "invalid or missing"},
        )
    # Here, not as TemporalDep: a bad body is a 400 first; and before the batch is stored.
    client = require_temporal(temporal)
    config = await load_runtime_config(session, settings=settings)
    hours = parsed.options.token_expiry_hours or config.token_expiry_hours
    batch_id, fingerprint = batch_identity(parsed)
    # Its own transaction: the rows must be committed before the workflow reads them.
    async with app_sessions(request.app)() as write, write.begin():
        await store_batch(
            write,
            batch_id=batch_id,
            fingerprint=fingerprint,
            parsed=parsed,
            created_by=user.username,
        )
    defaults = BatchJoinDefaults(
        cloudcore_host=host,
        cloudcore_port=settings.cloudcore_port,
        token_ttl_seconds=max(1, round(hours * 3600)),
        kubeedge_version=settings.kubeedge_version,
        kubeedge_namespace=settings.kubeedge_namespace,
        device_namespace=settings.device_namespace,
    )
    handle = await start_batch(
        client,
        batch_id=batch_id,
        total=len(parsed.devices),
        defaults=defaults,
        max_concurrency=parsed.options.max_concurrency or settings.batch_max_concurrency,
        task_queue=settings.task_queue,
    )
    workflow_id = batch_join_workflow_id(batch_id)
    links = {
        "batch_id": batch_id,
        "workflow_id": workflow_id,
        "temporal_ui_url": temporal_ui_link(settings, workflow_id),
        "status_url": f"/api/kubeedge/batch-join/{batch_id}",
    }
    if len(parsed.devices) <= settings.batch_sync_limit:
        try:
            await asyncio.wait_for(handle.result(), timeout=settings.join_answer_timeout_seconds)
        except (TimeoutError, WorkflowFailureError):
            pass  # answer 202 below; the status URL has the rest
        else:
            report = await batch_report(
                session, batch_id=batch_id, offset=0, limit=len(parsed.devices)
            )
            return {**report, **links}
    accepted = {"status": "accepted", "total": len(parsed.devices), **links}
    return JSONResponse(accepted, status_code=status.HTTP_202_ACCEPTED)


@router.get("/batch-join/{batch_id}")
async def batch_status(
    batch_id: str,
    _user: ViewerUser,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    page: PageDep,
) -> Any:
    report = await batch_report(
        session, batch_id=batch_id, offset=page.offset, limit=page.limit, page=page, client=client
    )
    workflow_id = batch_join_workflow_id(batch_id)
    return {
        **report,
        "workflow_id": workflow_id,
        "temporal_ui_url": temporal_ui_link(settings, workflow_id),
    }


async def _signal(client: Any, batch_id: str, signal: str) -> dict[str, str]:
    handle = client.get_workflow_handle(batch_join_workflow_id(batch_id))
    try:
        await handle.signal(signal)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, f"batch {batch_id} is not running") from err
        raise
    return {"status": "success", "batch_id": batch_id, "action": signal}


@router.post("/batch-join/{batch_id}/pause", responses=_NOT_RUNNING)
async def pause(batch_id: str, _user: OperatorUser, client: TemporalDep) -> dict[str, str]:
    return await _signal(client, batch_id, BATCH_PAUSE_SIGNAL)


@router.post("/batch-join/{batch_id}/resume", responses=_NOT_RUNNING)
async def resume(batch_id: str, _user: OperatorUser, client: TemporalDep) -> dict[str, str]:
    return await _signal(client, batch_id, BATCH_RESUME_SIGNAL)


@router.post("/batch-join/{batch_id}/cancel", responses=_NOT_RUNNING)
async def cancel(batch_id: str, _user: OperatorUser, client: TemporalDep) -> dict[str, str]:
    return await _signal(client, batch_id, BATCH_CANCEL_SIGNAL)
