"""`GET /api/kubeedge/security/logs`: the security audit log, for admins only.

Read-only by design: the log is appended by the API as things happen (api.core.audit)
and shortened only by the retention schedule (EDGEWRIGHT_AUDIT_RETENTION_DAYS); no
route changes or deletes an event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.audit.schemas import AuditEventOut, AuditLog
from api.audit.service import audit_filters
from api.core.deps import AdminUser, SessionDep
from api.core.envelopes import CloudCoreError
from api.core.listing import LINK_HEADER, ListDep, list_response
from store.audit import AuditEvent, list_audit_events

router = APIRouter(prefix="/api/kubeedge/security", tags=["security"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    **LINK_HEADER,
    400: {"model": CloudCoreError, "description": "A filter is invalid; details name it"},
    401: {"model": CloudCoreError, "description": "No valid credentials"},
    403: {"model": CloudCoreError, "description": "The admin role is needed"},
    429: {"model": CloudCoreError, "description": "Rate limit reached"},
}


@router.get("/logs", response_model=AuditLog, responses=_RESPONSES)
async def security_logs(
    request: Request,
    session: SessionDep,
    window: ListDep,
    _admin: AdminUser,
    event: Annotated[AuditEvent | None, Query(description="Only this event")] = None,
    actor: Annotated[str | None, Query(max_length=100, description="Only this actor")] = None,
    since: Annotated[
        str | None, Query(max_length=64, description="ISO 8601; events at or after it")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=64, description="ISO 8601; events at or before it")
    ] = None,
) -> Response:
    filters = audit_filters(event=event, actor=actor, since=since, until=until)
    rows, total = await list_audit_events(
        session,
        event=filters.event,
        actor=filters.actor,
        since=filters.since,
        until=filters.until,
        offset=window.offset,
        limit=window.limit,
    )
    return list_response(
        request, key="logs", rows=rows, render=AuditEventOut.of, window=window, total=total
    )
