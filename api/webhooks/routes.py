"""Webhooks (`/api/kubeedge/webhooks`): admins create, change (a new secret rotates it),
re-enable and delete them; operators read them and their deliveries, send a `ping` and
redeliver a dead delivery. The secret is never answered nor logged."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from api.core.audit import record_audit_event
from api.core.deps import AdminUser, OperatorUser, SessionDep, SettingsDep, TemporalDep
from api.core.envelopes import CloudCoreError
from api.core.pagination import PageDep, pagination
from api.core.state import app_sessions
from api.webhooks import service
from api.webhooks.schemas import (
    Deleted,
    DeliveryList,
    DeliveryStarted,
    WebhookAnswer,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
)
from store import webhooks
from store.audit import AuditEvent

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/kubeedge/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(max_length=40, description="The webhook's id (wh_...)")]
DeliveryId = Annotated[str, Path(max_length=40, description="The delivery's id (dlv_...)")]


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    text = {
        400: "Invalid body: an unknown event, a URL that is not http(s) or that resolves to "
        "a loopback, private, link-local or metadata address",
        403: "The role is not enough (admin to change webhooks, operator to read them)",
        404: "No such webhook or delivery",
        409: "The webhook is disabled, or the delivery is not dead",
        503: "Temporal is not reachable yet",
    }
    return {code: {"model": CloudCoreError, "description": text[code]} for code in codes}


@router.post("", status_code=status.HTTP_201_CREATED, responses=_errors(400, 403))
async def create_webhook(
    body: WebhookCreate, session: SessionDep, settings: SettingsDep, admin: AdminUser
) -> WebhookCreated:
    await service.check_target(settings, body.url)
    row = await webhooks.create_webhook(
        session,
        url=body.url,
        events=list(dict.fromkeys(event.value for event in body.events)),
        secret_sealed=service.sealed(settings, body.secret.get_secret_value()),
        description=body.description,
        created_by=admin.username,
    )
    logger.info("webhook %s created by %s for %s", row.id, admin.username, row.events)
    return WebhookCreated(message="Webhook created", id=row.id, webhook=WebhookOut.of(row))


@router.get("", responses=_errors(403))
async def list_webhooks(session: SessionDep, page: PageDep, _user: OperatorUser) -> WebhookList:
    rows, total = await webhooks.list_webhooks(session, offset=page.offset, limit=page.limit)
    return WebhookList(
        count=len(rows),
        webhooks=[WebhookOut.of(row) for row in rows],
        pagination=pagination(page, total=total),
    )


@router.get("/{webhook_id}", responses=_errors(403, 404))
async def get_webhook(
    webhook_id: WebhookId, session: SessionDep, _user: OperatorUser
) -> WebhookOut:
    return WebhookOut.of(await service.existing(session, webhook_id))


@router.put("/{webhook_id}", responses=_errors(400, 403, 404))
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
) -> WebhookAnswer:
    row = await service.existing(session, webhook_id)
    if body.url is not None:
        await service.check_target(settings, body.url)
        row.url = body.url
    if body.events is not None:
        row.events = list(dict.fromkeys(event.value for event in body.events))
    if "description" in body.model_fields_set:
        row.description = body.description
    if body.secret is not None:
        row.secret_sealed = service.sealed(settings, body.secret.get_secret_value())
        logger.info("webhook %s: secret rotated by %s", row.id, admin.username)
        await record_audit_event(
            request,
            session,
            event=AuditEvent.WEBHOOK_SECRET_ROTATED,
            target=f"webhook:{row.id}",
            details={"webhook_id": row.id, "url": row.url},
        )
    if body.enabled is not None:
        row.enabled = body.enabled
        row.disabled_reason = None if body.enabled else f"disabled by {admin.username}"
        row.failing_since = None
    await session.flush()
    logger.info("webhook %s changed by %s", row.id, admin.username)
    return WebhookAnswer(message="Webhook updated", webhook=WebhookOut.of(row))


@router.delete("/{webhook_id}", responses=_errors(403, 404))
async def delete_webhook(webhook_id: WebhookId, session: SessionDep, admin: AdminUser) -> Deleted:
    await service.existing(session, webhook_id)
    await webhooks.delete_webhook(session, webhook_id)
    logger.info("webhook %s deleted by %s", webhook_id, admin.username)
    return Deleted(message=f"Webhook {webhook_id} deleted with its deliveries")


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_errors(403, 404, 409, 503),
)
async def ping_webhook(
    webhook_id: WebhookId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
    _user: OperatorUser,
) -> DeliveryStarted:
    hook = await service.existing(session, webhook_id)
    service.enabled(hook)
    row = await service.ping(app_sessions(request.app), client, settings, hook)
    return DeliveryStarted(
        message="ping sent; follow it in the deliveries",
        delivery=service.delivery_view(settings, row),
    )


@router.get("/{webhook_id}/deliveries", responses=_errors(403, 404))
async def list_deliveries(
    webhook_id: WebhookId,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    _user: OperatorUser,
) -> DeliveryList:
    await service.existing(session, webhook_id)
    rows, total = await webhooks.list_deliveries(
        session, webhook_id=webhook_id, offset=page.offset, limit=page.limit
    )
    return DeliveryList(
        count=len(rows),
        deliveries=[service.delivery_view(settings, row) for row in rows],
        pagination=pagination(page, total=total),
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_errors(403, 404, 409, 503),
)
async def redeliver(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    request: Request,
    settings: SettingsDep,
    client: TemporalDep,
    _user: OperatorUser,
) -> DeliveryStarted:
    row = await service.redeliver(
        app_sessions(request.app), client, settings, webhook_id=webhook_id, delivery=delivery_id
    )
    return DeliveryStarted(
        message="redelivery started", delivery=service.delivery_view(settings, row)
    )
