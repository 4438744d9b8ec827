"""The FastAPI application: `uvicorn api.main:app`.

Importing this module builds only the routing table. Settings, the database engine and
the Temporal client are built when the server starts (the lifespan), so importing it
for tests, OpenAPI export or tooling needs no environment and touches nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI

from adapters.malloc_arenas import limit_malloc_arenas
from api.access import api_key_routes as api_keys
from api.access import login_routes as auth
from api.access import user_routes as users
from api.audit import routes as audit
from api.backup import restore_routes as restores
from api.backup import routes as backups
from api.backup import schedule_routes as backup_schedules
from api.certificates import routes as kubeedge_certificates
from api.cloudcore import config_routes as kubeedge_config
from api.cloudcore import routes as kubeedge_cloudcore
from api.commands import connection_test_routes as device_tests
from api.commands import job_routes as command_jobs
from api.commands import routes as commands
from api.core import health_routes as health
from api.core.audit import AuditMiddleware
from api.core.body_limit import BodyLimitMiddleware
from api.core.caller_cache import CallerCache
from api.core.compat import LenientJsonMiddleware
from api.core.deprecation import (
    DEPRECATED,
    Deprecation,
    DeprecationHeadersMiddleware,
    mark_deprecated,
)
from api.core.deps import current_user
from api.core.errors import install_error_handlers
from api.core.openapi import EdgewrightAPI, add_cloudcore_docs
from api.core.probes import api_version
from api.core.rate_limit import RateLimiter
from api.core.slots import Slots
from api.core.state import AppState, set_app_state
from api.core.temporal import TemporalConnector, connect_forever
from api.core.throttle import RateLimitHeadersMiddleware
from api.core.unavailable import install_unavailable_handlers
from api.core.versioning import ApiVersionMiddleware
from api.devices import node_routes as edge_nodes
from api.devices import node_token_routes as edge_security
from api.devices import routes as kubeedge_inventory
from api.devices import token_routes as kubeedge_tokens
from api.join import batch_routes as batch_join
from api.join import edgecore_routes as edgecore
from api.join import routes as kubeedge_devices
from api.live import routes as live
from api.maintenance import routes as maintenance
from api.maintenance.cache import MaintenanceCache
from api.maintenance.gate import MaintenanceGate, document_refusals
from api.monitoring import alert_routes as kubeedge_alerts
from api.monitoring import edge_routes as edge_metrics
from api.monitoring import routes as kubeedge_metrics
from api.monitoring.batcher import SampleBatcher, set_app_batcher
from api.observability import routes as observability
from api.observability.metrics import ApiMetrics, set_app_metrics
from api.observability.middleware import HttpMetricsMiddleware
from api.webhooks import routes as webhooks
from api.workloads import app_routes as kubeedge_apps
from api.workloads import routes as edge_workloads
from store.db import engine_for, session_factory
from store.settings import Settings

logger = logging.getLogger(__name__)

# Each pooled SQLite connection's page cache. SQLite's default, 2 MiB, filled on each of the
# pool's connections by whole-list reads: reading the 10,000-device list on 15 connections
# at once grew the process by 47 MB, 19 MB at 256 KiB. The OS caches the file anyway, and
# under WAL a connection's cache is emptied whenever another connection has written.
# Halved again to 128 KiB: the pool hands out its connections in turn, so the bench's 16
# whole-list reads filled about every connection's cache; 2 MB less after them (a page
# touches a few dozen pages; a whole list or a far page overflows either size).
API_SQLITE_CACHE_KIB = 128

_DESCRIPTION = (
    "Provisioning control plane for KubeEdge edge fleets. Serves the CloudCore management "
    "API (/api/auth, /api/health, /api/kubeedge) and the Edge Computing Framework API "
    "(/api/v1). Log in at POST /api/auth/login and send the token as `Authorization: "
    "Bearer <token>`, or send an API key as `X-API-Key: <key>`."
)


def create_app(
    settings: Settings | None = None, *, deprecations: Sequence[Deprecation] = DEPRECATED
) -> FastAPI:
    """The app; `settings` wins over the environment (tests inject theirs, and a registry
    of deprecated routes of their own)."""
    app = EdgewrightAPI(
        title="edgewright",
        version=api_version(),
        description=_DESCRIPTION,
        lifespan=_lifespan(settings),
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    _include_routes(app)
    # Before any middleware: the registry names routes, and a wrong name fails here.
    app.deprecations = mark_deprecated(app, deprecations)
    _add_middleware(app)
    return app


def _add_middleware(app: EdgewrightAPI) -> None:
    # The last added is the outermost.
    # Added first so it sits inside the error middleware that install_error_handlers adds.
    app.add_middleware(LenientJsonMiddleware)
    install_error_handlers(app)
    install_unavailable_handlers(app)
    # Refuses writes during maintenance before anything reads or authenticates them; its
    # 503s still get the rate-limit headers and are counted (middleware added below).
    app.add_middleware(MaintenanceGate)
    app.document_rewriters.append(document_refusals)
    app.add_middleware(RateLimitHeadersMiddleware)  # decorates error answers too
    # Writes the deferred audit events and every 403 as the answer starts (api.core.audit).
    app.add_middleware(AuditMiddleware)
    # An oversized body is refused before anything reads, parses or authenticates.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(DeprecationHeadersMiddleware, marked=app.deprecations)
    # Outside the body limit: its 413 carries the version too, and a 406 reads no body.
    app.add_middleware(ApiVersionMiddleware)
    # Outermost of all: every answer is counted, the 413s and 500s included.
    metrics = ApiMetrics()
    set_app_metrics(app, metrics)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)


def _include_routes(app: FastAPI) -> None:
    add_cloudcore_docs(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(users.router, dependencies=[Depends(current_user)])
    app.include_router(api_keys.router, dependencies=[Depends(current_user)])
    # Deny by default: whatever the device routes declare, none is reachable without a
    # valid token (the dependency is cached, so routes asking for the user again are free).
    app.include_router(kubeedge_devices.router, dependencies=[Depends(current_user)])
    app.include_router(batch_join.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_inventory.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_tokens.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_cloudcore.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_config.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_certificates.router, dependencies=[Depends(current_user)])
    app.include_router(edge_security.router, dependencies=[Depends(current_user)])
    # Node tokens reach these too: every route names its callers (api.devices.node_access).
    app.include_router(edge_nodes.router)
    app.include_router(edge_metrics.router)
    # Commands: command_jobs first, or its /command/jobs/... paths would be taken for
    # /command/{command_id}/....
    app.include_router(command_jobs.router, dependencies=[Depends(current_user)])
    app.include_router(commands.router, dependencies=[Depends(current_user)])
    app.include_router(device_tests.router, dependencies=[Depends(current_user)])
    app.include_router(backups.router, dependencies=[Depends(current_user)])
    app.include_router(restores.router, dependencies=[Depends(current_user)])
    app.include_router(backup_schedules.router, dependencies=[Depends(current_user)])
    # Workloads and apps: users and API keys only, never a node's token.
    app.include_router(edge_workloads.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_apps.router, dependencies=[Depends(current_user)])
    app.include_router(webhooks.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_metrics.router, dependencies=[Depends(current_user)])
    app.include_router(kubeedge_alerts.router, dependencies=[Depends(current_user)])
    app.include_router(audit.router, dependencies=[Depends(current_user)])
    app.include_router(maintenance.router, dependencies=[Depends(current_user)])
    # These authenticate on their own: the live streams also take `?token=` (browsers
    # cannot send headers there), the join-token check takes the join token itself. The
    # live router's lifespan subscribes this replica to the event bus.
    app.include_router(observability.router, dependencies=[Depends(current_user)])
    app.include_router(observability.process_router)
    app.include_router(live.router)
    app.include_router(live.ws_router)
    app.include_router(edgecore.router)


def _lifespan(
    given: Settings | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = given if given is not None else Settings()
        # Before any thread starts (the SQLite connections', the Temporal runtime's).
        limit_malloc_arenas(settings.api_malloc_arena_max)
        if settings.secret_key is None:
            raise RuntimeError(
                "EDGEWRIGHT_SECRET_KEY is not set. The API derives its login-token signing "
                "key from it and will not start without one. Set it to a random string of "
                "at least 32 characters, for example the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        # Pooled past the concurrency it serves: a connection opened per request past the
        # pool (SQLAlchemy's 5) cost a connect (and on SQLite a thread) every time.
        engine = engine_for(settings, sqlite_cache_kib=API_SQLITE_CACHE_KIB)
        temporal = TemporalConnector(connect=connect_forever(settings))
        sessions = session_factory(engine)
        batcher = SampleBatcher(
            sessions=sessions,
            max_batch=settings.metrics_post_batch_samples,
            max_wait_seconds=settings.metrics_post_batch_wait_seconds,
            max_pending=settings.metrics_post_max_waiting,
        )
        try:
            await temporal.start()
            batcher.start()
            set_app_batcher(app, batcher)
            set_app_state(
                app,
                AppState(
                    settings=settings,
                    engine=engine,
                    sessions=sessions,
                    temporal=temporal,
                    rate_limiter=RateLimiter(storage_uri=settings.rate_limit_storage),
                    login_slots=Slots(
                        size=settings.login_max_concurrent,
                        wait_seconds=settings.login_queue_seconds,
                    ),
                    callers=CallerCache(ttl_seconds=settings.auth_cache_seconds),
                    maintenance=MaintenanceCache(
                        ttl_seconds=settings.maintenance_gate_cache_seconds
                    ),
                ),
            )
            logger.info("edgewright API ready at %s", settings.public_api_url)
            yield
        finally:
            set_app_state(app, None)
            # Samples already accepted are written before the engine goes.
            await batcher.stop()
            set_app_batcher(app, None)
            await temporal.stop()
            await engine.dispose()

    return lifespan


app = create_app()
