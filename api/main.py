"""The FastAPI application: `uvicorn api.main:app`.

Importing this module builds only the routing table. Settings, the database engine and
the Temporal client are built when the server starts (the lifespan), so importing it
for tests, OpenAPI export or tooling needs no environment and touches nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI

from api.compat import LenientJsonMiddleware
from api.deps import current_user
from api.errors import install_error_handlers
from api.openapi import EdgewrightAPI, add_cloudcore_docs
from api.probes import api_version
from api.routes import auth, health, kubeedge_devices
from api.state import AppState, set_app_state
from api.temporal import TemporalConnector, connect_from_settings
from store.db import create_engine, session_factory
from store.settings import Settings

logger = logging.getLogger(__name__)

_DESCRIPTION = (
    "Provisioning control plane for KubeEdge edge fleets. Serves the CloudCore management "
    "API (/api/auth, /api/health, /api/kubeedge) and the Edge Computing Framework API "
    "(/api/v1). Log in at POST /api/auth/login and send the token as `Authorization: "
    "Bearer <token>`."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; `settings` wins over the environment (tests inject theirs)."""
    app = EdgewrightAPI(
        title="edgewright",
        version=api_version(),
        description=_DESCRIPTION,
        lifespan=_lifespan(settings),
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    # Added first so it sits inside the error middleware that install_error_handlers adds.
    app.add_middleware(LenientJsonMiddleware)
    install_error_handlers(app)
    add_cloudcore_docs(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    # Deny by default: whatever the device routes declare, none is reachable without a
    # valid token (the dependency is cached, so routes asking for the user again are free).
    app.include_router(kubeedge_devices.router, dependencies=[Depends(current_user)])
    return app


def _lifespan(
    given: Settings | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = given if given is not None else Settings()
        if settings.secret_key is None:
            raise RuntimeError(
                "EDGEWRIGHT_SECRET_KEY is not set. The API derives its login-token signing "
                "key from it and will not start without one. Set it to a random string of "
                "at least 32 characters, for example the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        engine = create_engine(settings.sqlalchemy_url)
        temporal = TemporalConnector(
            connect=connect_from_settings(settings), target=settings.temporal_address
        )
        try:
            await temporal.start()
            set_app_state(
                app,
                AppState(
                    settings=settings,
                    engine=engine,
                    sessions=session_factory(engine),
                    temporal=temporal,
                ),
            )
            logger.info("edgewright API ready at %s", settings.public_api_url)
            yield
        finally:
            set_app_state(app, None)
            await temporal.stop()
            await engine.dispose()

    return lifespan


app = create_app()
