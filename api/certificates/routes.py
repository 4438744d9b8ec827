"""Certificates edgewright can see, and renewing CloudCore's own.

`GET /api/kubeedge/security/certificates` answers from what the worker last read of
CloudCore's Secrets (every health report, and after each renewal), never a live call to
Kubernetes: the API holds no Kubernetes credentials. `POST .../renew` starts a
CertificateRenewalWorkflow and answers 202 with the run's status URL.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from api.certificates.list_service import certificates_of
from api.certificates.schemas import CertificateList, RenewalAnswer, RenewRequest
from api.certificates.service import RenewalRunning, renewal_run, start_renewal
from api.core.audit import defer_audit_event
from api.core.deps import (
    AdminUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.core.links import temporal_ui_link
from api.core.runs import unavailable
from store.audit import AuditEvent
from store.certificates import load_certificates
from store.models import utcnow
from store.settings import Settings
from workflows.contracts.certificates import (
    API_TLS,
    CA_SECRET,
    CLOUDCORE_SECRET,
    CertificateRenewalInput,
    RenewalProgress,
    certificate_renewal_workflow_id,
)

router = APIRouter(prefix="/api/kubeedge/security", tags=["certificates"])
RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ANSWERS = {
    WorkflowExecutionStatus.RUNNING: "in_progress",
    WorkflowExecutionStatus.COMPLETED: "success",
}
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": CloudCoreError, "description": "No valid token or API key"},
    403: {"model": CloudCoreError, "description": "The caller's role may not do this"},
}
CA_REFUSED = (
    "Renewing CloudCore's CA is refused: every edge node trusts CloudCore through this CA "
    "(keadm stores its hash and the join token is signed with its key), so a new CA would "
    "cut off every edge node until each one is joined again. Renew cloudcoresecret instead."
)
API_TLS_REFUSED = "The API's TLS certificate is not held by edgewright (see the list's reason)"


def _answer(
    settings: Settings, *, name: str, run_id: str, state: str, progress: RenewalProgress | None
) -> RenewalAnswer:
    workflow_id = certificate_renewal_workflow_id(settings.kubeedge_namespace, name)
    return RenewalAnswer(
        status=state,
        message=progress.message if progress else "the renewal is running; follow status_url",
        name=name,
        run_id=run_id,
        status_url=f"/api/kubeedge/security/certificates/{name}/renewals/{run_id}",
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
        renewal=progress,
    )


@router.get("/certificates", response_model=CertificateList, responses={**_AUTH})
async def list_certificates(
    _user: ViewerUser, session: SessionDep, settings: SettingsDep
) -> CertificateList:
    """CloudCore's CA and serving certificate as last read, and the API's TLS certificate."""
    row = await load_certificates(session)
    warning_days = settings.certificate_expiry_warning_days
    return CertificateList(
        certificates=certificates_of(
            row.value if row else None, now=utcnow(), warning_days=warning_days
        ),
        expiring_within_days=warning_days,
        observed_at=row.observed_at if row else None,
    )


@router.post(
    "/certificates/renew",
    response_model=RenewalAnswer,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_AUTH,
        400: {"model": CloudCoreError, "description": "The CA (never renewed here), or a bad body"},
        404: {"model": CloudCoreError, "description": "No certificate of that name"},
        409: {"model": CloudCoreError, "description": "A renewal of it is running"},
        503: {"model": CloudCoreError, "description": "Temporal is unavailable"},
    },
)
async def renew_certificate(
    request: Request,
    body: RenewRequest,
    user: AdminUser,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> Any:
    """Issue CloudCore a new certificate from its CA and restart it (admin only).

    The old certificate goes back if CloudCore is not ready in time.
    """
    if body.name == CA_SECRET:
        raise ApiError(400, CA_REFUSED, details={"name": body.name})
    if body.name == API_TLS:
        raise ApiError(400, API_TLS_REFUSED, details={"name": body.name})
    if body.name != CLOUDCORE_SECRET:
        raise ApiError(404, f"No certificate {body.name}", details={"name": body.name})
    inp = CertificateRenewalInput(
        namespace=settings.kubeedge_namespace,
        name=body.name,
        requested_by=user.username[:200],
        rollout_timeout_seconds=settings.cloudcore_rollout_timeout_seconds,
    )
    client = require_temporal(temporal)  # after the checks: a bad body is a 400 first
    try:
        run_id = await start_renewal(client, inp=inp, task_queue=settings.task_queue)
    except RPCError as err:
        raise unavailable(err) from err
    except RenewalRunning as running:
        workflow_id = certificate_renewal_workflow_id(inp.namespace, inp.name)
        details: dict[str, Any] = {"name": body.name, "workflow_id": workflow_id}
        if running.progress is not None:
            details["renewal_status"] = running.progress.status.value
        raise ApiError(
            409, f"A renewal of {body.name} is running; wait for it", details=details
        ) from None
    # Deferred: the run is started whatever this request answers; its outcome is recorded
    # by the workflow's last step.
    defer_audit_event(
        request,
        event=AuditEvent.CERTIFICATE_RENEWAL_STARTED,
        target=f"certificate:{body.name}",
        details={"run_id": run_id, "namespace": inp.namespace},
    )
    answer = _answer(settings, name=body.name, run_id=run_id, state="accepted", progress=None)
    return JSONResponse(answer.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


@router.get(
    "/certificates/{name}/renewals/{run_id}",
    response_model=RenewalAnswer,
    responses={
        **_AUTH,
        400: {"model": CloudCoreError, "description": "Not a run ID"},
        404: {"model": CloudCoreError, "description": "No such renewal run"},
        503: {
            "model": CloudCoreError,
            "description": "Temporal or the worker did not answer within the answer timeout",
        },
    },
)
async def renewal_status(
    name: str, run_id: str, _user: ViewerUser, settings: SettingsDep, temporal: OptionalTemporalDep
) -> RenewalAnswer:
    """How one renewal goes or went: `status` in_progress, success or failed."""
    if not RUN_ID.fullmatch(run_id):
        raise ApiError(
            400, "run_id must be a run ID as a renewal answered it", details={"run_id": "invalid"}
        )
    if name != CLOUDCORE_SECRET:
        raise ApiError(404, f"No renewal of {name[:64]!r}", details={"run_id": run_id})
    client = require_temporal(temporal)
    try:
        async with asyncio.timeout(settings.cloudcore_answer_timeout_seconds):
            state, progress = await renewal_run(
                client, namespace=settings.kubeedge_namespace, name=name, run_id=run_id
            )
    except RPCError as err:
        raise unavailable(err) from err
    except TimeoutError:
        raise ApiError(
            503, "The worker did not answer in time; retry shortly", headers={"Retry-After": "5"}
        ) from None
    if state is None:
        raise ApiError(404, f"No renewal run {run_id} of {name}", details={"run_id": run_id})
    answer = _ANSWERS.get(state, "failed")
    return _answer(settings, name=name, run_id=run_id, state=answer, progress=progress)
