"""What the lifespan builds and every request uses, kept typed on `app.state`.

Starlette's `app.state` is an untyped bag; these accessors are the only way in and out,
so a missing lifespan shows up as one clear error instead of an AttributeError deep in a
dependency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from api.core.audit_memo import AuditMemo
from api.core.caller_cache import CallerCache
from api.core.config_cache import RuntimeConfigCache
from api.core.rate_limit import RateLimiter
from api.core.slots import Slots
from api.core.temporal import TemporalConnector
from api.maintenance.cache import MaintenanceCache
from store.settings import Settings

_KEY = "edgewright"


@dataclass(frozen=True, kw_only=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    temporal: TemporalConnector
    # Defaults count in this process only; the lifespan builds the configured storage.
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    config_cache: RuntimeConfigCache = field(default_factory=RuntimeConfigCache)
    # Login tokens the store vouched for moments ago (EDGEWRIGHT_AUTH_CACHE_SECONDS).
    callers: CallerCache = field(default_factory=CallerCache)
    # The maintenance window as last read (EDGEWRIGHT_MAINTENANCE_GATE_CACHE_SECONDS).
    maintenance: MaintenanceCache = field(default_factory=MaintenanceCache)
    # Logins hashing a password at once (EDGEWRIGHT_LOGIN_MAX_CONCURRENT).
    login_slots: Slots = field(default_factory=lambda: Slots(size=4, wait_seconds=2.0))
    # Once-per-period audit events this replica already wrote (api.core.audit).
    audit_memo: AuditMemo = field(default_factory=AuditMemo)


def set_app_state(app: Starlette, state: AppState | None) -> None:
    setattr(app.state, _KEY, state)


def app_state(app: Starlette) -> AppState:
    state = getattr(app.state, _KEY, None)
    if not isinstance(state, AppState):
        raise RuntimeError("the API's lifespan has not run: start it with uvicorn api.main:app")
    return state


def app_settings(app: Starlette) -> Settings:
    return app_state(app).settings


def app_sessions(app: Starlette) -> async_sessionmaker[AsyncSession]:
    return app_state(app).sessions
