"""CloudCore contract: join tokens (`POST /token/generate`, `GET /tokens`, `DELETE /token/{node}`).

A generated token is a real KubeEdge token for one node, minted from `casecret` by the
worker (IssueTokenWorkflow), stored as its sha256 only, shown once. It is used up when
its node turns Ready (the node sync notices), and revocable until then.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from api.core.audit import defer_audit_event, record_audit_event
from api.core.deps import (
    AdminUser,
    OptionalTemporalDep,
    SessionDep,
    SettingsDep,
    ViewerUser,
    require_temporal,
)
from api.core.errors import ApiError, RunStillRunning
from api.core.links import temporal_ui_link
from api.core.listing import LINK_HEADER, ListDep, ListPagination, list_response
from api.core.runs import RunStart, answer_within, start_or_attach, unavailable
from api.join.keadm import build_join_command, is_valid_host
from store.audit import AuditEvent
from store.devices import inventory as devices
from store.devices import tokens
from store.models import JoinToken, utcnow
from store.runtime_config import load_runtime_config
from store.sealing import SealError, unseal
from store.settings import Settings
from workflows.contracts import summaries
from workflows.contracts.common import NodeName, ShortText
from workflows.contracts.devices import (
    ISSUE_TOKEN_WORKFLOW,
    IssueNodeTokenInput,
    issue_token_workflow_id,
)
from workflows.contracts.join import IssuedJoinToken

router = APIRouter(prefix="/api/kubeedge", tags=["tokens"])


def _host(value: str) -> str:
    if not is_valid_host(value):
        raise ValueError("must be an IP address or a DNS name")
    return value


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_name: NodeName
    expiry_hours: float | None = Field(
        default=None, gt=0, le=24 * 30, description="Default: the configured token_expiry"
    )
    description: ShortText | None = None
    cloud_ip: Annotated[str, AfterValidator(_host)] | None = Field(
        default=None, description="CloudCore address for join_command; default from config"
    )


class GenerateAnswer(BaseModel):
    status: str = "success"
    node_name: str
    token: str
    expires_at: datetime
    join_command: str | None = Field(description="null when no CloudCore address is known")
    # ours
    token_id: str
    device_id: str | None
    description: str | None
    workflow_id: str
    temporal_ui_url: str


class TokenItem(BaseModel):
    node_name: str
    created_at: datetime
    expires_at: datetime
    status: tokens.TokenStatus
    device_id: str | None
    # ours
    token_id: str
    description: str | None
    used_at: datetime | None
    revoked_at: datetime | None


class TokenList(BaseModel):
    count: int = Field(description="Tokens in this answer; all that match is pagination.total")
    tokens: list[TokenItem]
    pagination: ListPagination


class RevokeAnswer(BaseModel):
    status: str = "success"
    message: str
    revoked: int


@router.post("/token/generate", response_model=GenerateAnswer)
async def generate(
    body: GenerateRequest,
    request: Request,
    user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    temporal: OptionalTemporalDep,
) -> GenerateAnswer:
    config = await load_runtime_config(session, settings=settings)
    hours = body.expiry_hours or config.token_expiry_hours
    token_id = str(uuid.uuid4())
    inp = IssueNodeTokenInput(
        node_name=body.node_name,
        device_id=await devices.node_owner(session, node_name=body.node_name),
        token_id=token_id,
        expires_at=(utcnow() + timedelta(hours=hours)).replace(microsecond=0),
        kubeedge_namespace=settings.kubeedge_namespace,
        description=body.description,
    )
    client = require_temporal(temporal)  # not TemporalDep: a bad body is a 400 first
    issued = await _issue(client, inp=inp, settings=settings)
    # Deferred: the worker stored the token already, whatever this request answers.
    defer_audit_event(
        request,
        event=AuditEvent.TOKEN_ISSUED,
        target=f"node:{body.node_name}",
        details={
            "token_kind": "join",
            "token_id": token_id,
            "node_name": body.node_name,
            "expires_at": issued.expires_at,
        },
    )
    try:
        token = unseal(settings, issued.sealed_token)
    except SealError as err:
        raise ApiError(500, "the join token cannot be unsealed with this secret key") from err
    workflow_id = issue_token_workflow_id(token_id)
    return GenerateAnswer(
        node_name=body.node_name,
        token=token,
        expires_at=issued.expires_at,
        join_command=_join_command(body, settings, token=token),
        token_id=token_id,
        device_id=inp.device_id,
        description=body.description,
        workflow_id=workflow_id,
        temporal_ui_url=temporal_ui_link(settings, workflow_id),
    )


async def _issue(
    client: Client, *, inp: IssueNodeTokenInput, settings: Settings
) -> IssuedJoinToken:
    workflow_id = issue_token_workflow_id(inp.token_id)
    details = {
        "workflow_id": workflow_id,
        "temporal_ui_url": temporal_ui_link(settings, workflow_id),
    }
    run = RunStart(
        workflow=ISSUE_TOKEN_WORKFLOW,
        arg=inp,
        id=workflow_id,
        summary=summaries.token_summary(inp.node_name),
        task_queue=settings.task_queue,
        result_type=IssuedJoinToken,
        execution_timeout=timedelta(minutes=5),
    )
    try:
        started = await start_or_attach(client, run)  # a new token's ID: nothing to attach to
        issued = await answer_within(started.handle, seconds=settings.join_answer_timeout_seconds)
    except RPCError as err:
        raise unavailable(err) from err
    except RunStillRunning:
        raise ApiError(
            503, "issuing the token takes longer than expected; retry shortly", details=details
        ) from None
    except WorkflowFailureError as err:
        reason: BaseException = err
        while reason.__cause__ is not None:  # workflow -> activity -> what Kubernetes said
            reason = reason.__cause__
        raise ApiError(503, f"the token could not be issued: {reason}", details=details) from err
    return issued


def _join_command(body: GenerateRequest, settings: Settings, *, token: str) -> str | None:
    host = body.cloud_ip or settings.cloudcore_address
    if host is None:
        return None
    return build_join_command(
        cloudcore_host=host,
        cloudcore_port=settings.cloudcore_port,
        node_name=body.node_name,
        token=token,
        kubeedge_version=settings.kubeedge_version,
    )


@router.get("/tokens", response_model=TokenList, responses=LINK_HEADER)
async def list_tokens(
    request: Request,
    _user: ViewerUser,
    session: SessionDep,
    window: ListDep,
    status: Annotated[tokens.TokenStatus | None, Query(description="Only this status")] = None,
    node_name: Annotated[str | None, Query(max_length=253)] = None,
) -> Response:
    now = utcnow()
    rows, total = await tokens.list_tokens(
        session,
        offset=window.offset,
        limit=window.limit,
        now=now,
        status=status,
        node_name=node_name,
    )

    def render(row: JoinToken) -> TokenItem:
        return TokenItem(
            node_name=row.node_name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            status=tokens.token_status(row, now=now),
            device_id=row.device_id,
            token_id=row.token_id,
            description=row.description,
            used_at=row.used_at,
            revoked_at=row.revoked_at,
        )

    return list_response(
        request, key="tokens", rows=rows, render=render, window=window, total=total
    )


@router.delete("/token/{node_name}", response_model=RevokeAnswer)
async def revoke(
    node_name: Annotated[str, Path(max_length=253)],
    request: Request,
    _user: AdminUser,
    session: SessionDep,
) -> RevokeAnswer:
    revoked = await tokens.revoke_active(session, now=utcnow(), node_name=node_name)
    if revoked == 0:
        raise ApiError(404, f"No active token for {node_name}", details={"node_name": node_name})
    await record_audit_event(
        request,
        session,
        event=AuditEvent.TOKEN_REVOKED,
        target=f"node:{node_name}",
        details={"token_kind": "join", "node_name": node_name, "revoked": revoked},
    )
    return RevokeAnswer(message=f"Token revoked for {node_name}", revoked=revoked)
