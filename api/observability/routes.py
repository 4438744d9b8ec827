"""Prometheus text and health figures of this API process.

`GET /api/kubeedge/metrics/prometheus` and `GET /api/kubeedge/metrics/health` ask for
credentials like every other /api/kubeedge read. `GET /metrics` is the same text where
scrapers look for it: it asks for credentials too, unless EDGEWRIGHT_METRICS_PUBLIC
says the network in front of the API is private.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.core.deps import (
    ApiKeyHeaderValue,
    BearerCredentials,
    CurrentUser,
    SessionDep,
    SettingsDep,
    current_user,
)
from api.core.envelopes import CloudCoreError
from api.core.route_facts import may_answer
from api.core.state import app_state
from api.observability.metrics import app_metrics
from api.observability.schemas import MetricsHealth
from api.observability.service import exposition, health_figures

router = APIRouter(prefix="/api/kubeedge/metrics", tags=["metrics"])
process_router = APIRouter(tags=["metrics"])

_ERROR: dict[str, Any] = {"model": CloudCoreError}
_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        "description": "Prometheus text exposition format 0.0.4",
    },
    401: {**_ERROR, "description": "Missing or invalid credentials"},
    429: {**_ERROR, "description": "The caller's rate limit is spent"},
}


@router.get("/prometheus", response_class=Response, responses=_TEXT)
async def prometheus(request: Request, session: SessionDep, _: CurrentUser) -> Response:
    text = await exposition(app_metrics(request.app), session=session)
    return Response(text, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/health",
    responses={
        401: {**_ERROR, "description": "Missing or invalid credentials"},
        429: {**_ERROR, "description": "The caller's rate limit is spent"},
    },
)
async def metrics_health(request: Request, session: SessionDep, _: CurrentUser) -> MetricsHealth:
    return await health_figures(
        app_metrics(request.app), state=app_state(request.app), session=session
    )


@may_answer(401, 429)
async def _scraper(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    credentials: BearerCredentials,
    api_key: ApiKeyHeaderValue,
) -> None:
    """Nothing when /metrics is public; otherwise the caller must authenticate."""
    if not settings.metrics_public:
        await current_user(request, session, credentials, api_key)


@process_router.get(
    "/metrics",
    response_class=Response,
    responses=_TEXT,
    dependencies=[Depends(_scraper)],
    summary="This process's metrics (credentials unless EDGEWRIGHT_METRICS_PUBLIC)",
)
async def process_metrics(request: Request, session: SessionDep) -> Response:
    text = await exposition(app_metrics(request.app), session=session)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
