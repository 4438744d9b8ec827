"""CloudCore API: alert rules and alerts (`/api/kubeedge/alerts...`).

Viewers read; operators change rules and acknowledge alerts. The worker's
AlertEvaluationWorkflow evaluates the rules; these routes only read and write the store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.core.deps import OperatorUser, SessionDep, ViewerUser
from api.core.envelopes import CloudCoreError
from api.core.errors import ApiError
from api.core.pagination import PageDep, pagination
from api.core.route_facts import CREATES_AT_PATH
from api.monitoring.alert_schemas import (
    AlertList,
    AlertView,
    RuleList,
    RuleName,
    RuleSpec,
    RuleView,
    State,
    alert_view,
    rule_view,
)
from store.models import MAX_ROW_ID, utcnow
from store.monitoring import alert_rules, alerts

router = APIRouter(prefix="/api/kubeedge/alerts", tags=["alerts"])

_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": CloudCoreError, "description": "No such alert"}
}


@router.get("/rules", response_model=RuleList)
async def list_rules(_user: ViewerUser, session: SessionDep) -> RuleList:
    rules = [rule_view(rule) for rule in await alert_rules.list_rules(session)]
    return RuleList(count=len(rules), rules=rules)


@router.put("/rules/{name}", response_model=RuleView, openapi_extra=CREATES_AT_PATH)
async def put_rule(
    name: Annotated[RuleName, Path(description="Lower-case letters, digits and _")],
    body: RuleSpec,
    _user: OperatorUser,
    session: SessionDep,
) -> RuleView:
    """Create or replace a rule; it applies from the next evaluation round."""
    rule = await alert_rules.put_rule(session, name=name, **body.model_dump())
    return rule_view(rule)


@router.get("", response_model=AlertList)
async def list_alerts(
    _user: ViewerUser,
    session: SessionDep,
    page: PageDep,
    state: Annotated[State | None, Query(description="firing or resolved")] = None,
    device_id: Annotated[str | None, Query(max_length=63)] = None,
) -> AlertList:
    rows, total = await alerts.list_alerts(
        session, state=state, device_id=device_id, offset=page.offset, limit=page.limit
    )
    return AlertList(
        count=total,
        alerts=[alert_view(row) for row in rows],
        pagination=pagination(page, total=total),
    )


@router.post("/{alert_id}/acknowledge", response_model=AlertView, responses=_NOT_FOUND)
async def acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    user: OperatorUser,
    session: SessionDep,
) -> AlertView:
    row = await alerts.acknowledge(session, alert_id=alert_id, by=user.username, now=utcnow())
    if row is None:
        raise ApiError(404, f"No alert {alert_id}", details={"alert_id": str(alert_id)})
    return alert_view(row)
