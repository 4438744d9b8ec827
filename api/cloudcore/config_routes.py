"""CloudCore contract: `GET /config` and `PUT /config`.

The settable part (token_expiry, max_devices, security.require_tls, security.rate_limit)
is the runtime configuration in the store (store.runtime_config): every API replica and
the worker read the same values, and a change takes effect without a restart. The rest
of the document's answer (CloudCore's version and ports, the cluster's counts) is what
the worker last read; the API never asks Kubernetes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.audit import record_audit_event
from api.core.deps import AdminUser, SessionDep, SettingsDep, ViewerUser
from api.core.errors import ApiError, describe_validation_errors
from api.core.numbers import Number
from api.core.state import app_state
from store import cloudcore as observed
from store.audit import AuditEvent
from store.runtime_config import RuntimeConfig, load_runtime_config, save_runtime_config
from store.settings import MIN_RATE_LIMIT_PER_MINUTE, Settings

router = APIRouter(prefix="/api/kubeedge", tags=["config"])

MAX_TOKEN_EXPIRY_HOURS = 24 * 30


class SecurityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_tls: StrictBool | None = None
    rate_limit: int | None = Field(
        default=None,
        ge=MIN_RATE_LIMIT_PER_MINUTE,
        le=100_000,
        description=f"Per minute per caller, {MIN_RATE_LIMIT_PER_MINUTE} to 100,000",
    )


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_expiry: float | None = Field(
        default=None, gt=0, le=MAX_TOKEN_EXPIRY_HOURS, description="Join token lifetime, hours"
    )
    max_devices: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Device cap; null removes it"
    )
    security: SecurityUpdate | None = None


class CloudCoreInfo(BaseModel):
    version: str | None
    advertise_address: str | None
    ports: dict[str, int | None]
    nodeports: dict[str, int | None]


class KubernetesInfo(BaseModel):
    version: str | None
    nodes: int | None
    pods: int | None


class SecurityInfo(BaseModel):
    tls_enabled: bool
    token_expiry: Number
    rate_limiting: bool
    require_tls: bool
    rate_limit: int


class ConfigAnswer(BaseModel):
    cloudcore: CloudCoreInfo
    kubernetes: KubernetesInfo
    security: SecurityInfo
    token_expiry: Number
    max_devices: int | None
    observed_at: datetime | None = Field(description="When the worker last read the cluster")


class ConfigUpdated(ConfigAnswer):
    status: str = "success"
    message: str = "Configuration updated"


async def _answer(
    session: AsyncSession, *, settings: Settings, config: RuntimeConfig
) -> dict[str, Any]:
    cloudcore = await observed.load_observed(session, key=observed.CLOUDCORE)
    cluster = await observed.load_observed(session, key=observed.CLUSTER)
    snapshot = cloudcore.value if cloudcore else {}
    ports = [p for service in snapshot.get("services") or [] for p in service.get("ports") or []]
    counts = cluster.value if cluster else {}
    return {
        "cloudcore": CloudCoreInfo(
            version=snapshot.get("version"),
            advertise_address=settings.cloudcore_address,
            ports={str(p.get("name")): p.get("port") for p in ports},
            nodeports={str(p.get("name")): p.get("nodePort") for p in ports},
        ),
        "kubernetes": KubernetesInfo(
            version=counts.get("kubernetes_version"),
            nodes=counts.get("nodes"),
            pods=counts.get("pods"),
        ),
        "security": SecurityInfo(
            tls_enabled=settings.public_api_url.startswith("https://"),
            token_expiry=config.token_expiry_hours,
            rate_limiting=True,
            require_tls=config.require_tls,
            rate_limit=config.rate_limit_per_minute,
        ),
        "token_expiry": config.token_expiry_hours,
        "max_devices": config.max_devices,
        "observed_at": cluster.observed_at if cluster else None,
    }


@router.get("/config", response_model=ConfigAnswer)
async def get_config(_user: ViewerUser, session: SessionDep, settings: SettingsDep) -> ConfigAnswer:
    config = await load_runtime_config(session, settings=settings)
    return ConfigAnswer(**await _answer(session, settings=settings, config=config))


@router.put("/config", response_model=ConfigUpdated)
async def put_config(
    body: ConfigUpdate,
    request: Request,
    _user: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
) -> ConfigUpdated:
    changes = _changes(body)
    if not changes:
        raise ApiError(
            400,
            "Nothing to change: give token_expiry, max_devices or security",
            details={"body": "no known field given"},
        )
    try:
        config = await save_runtime_config(session, changes=changes, settings=settings)
    except ValidationError as err:  # e.g. a stored value this version no longer accepts
        message, details = describe_validation_errors(err.errors())
        raise ApiError(400, message, details=details) from err
    # This replica at once; the others within their cache's few seconds.
    app_state(request.app).config_cache.invalidate()
    await record_audit_event(
        request,
        session,
        event=AuditEvent.CONFIG_CHANGED,
        target="runtime_config",
        details={"changes": changes},
    )
    return ConfigUpdated(**await _answer(session, settings=settings, config=config))


def _changes(body: ConfigUpdate) -> dict[str, Any]:
    """The runtime-config fields to change; a field left out is kept, null max_devices clears."""
    changes: dict[str, Any] = {}
    if body.token_expiry is not None:
        changes["token_expiry_hours"] = body.token_expiry
    if "max_devices" in body.model_fields_set:
        changes["max_devices"] = body.max_devices
    if body.security is not None:
        if body.security.require_tls is not None:
            changes["require_tls"] = body.security.require_tls
        if body.security.rate_limit is not None:
            changes["rate_limit_per_minute"] = body.security.rate_limit
    return changes
