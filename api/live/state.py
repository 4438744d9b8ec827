"""The live-event machinery of this replica, on `app.state`, started by the router's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette

from adapters.mqtt.credentials import service_credentials
from api.core.state import app_settings
from api.live import redact
from api.live.feed import EventFeed
from api.live.hub import EventHub

_KEY = "edgewright_live"


@dataclass(frozen=True, kw_only=True)
class Live:
    hub: EventHub
    feed: EventFeed


def live(app: Starlette) -> Live:
    found = getattr(app.state, _KEY, None)
    if not isinstance(found, Live):
        raise RuntimeError("live events are not running: the API's lifespan has not run")
    return found


@asynccontextmanager
async def live_events(app: Starlette) -> AsyncIterator[None]:
    """Runs inside the app's own lifespan (settings are already on `app.state`)."""
    settings = app_settings(app)
    redact.install()
    hub = EventHub(
        queue_size=settings.live_queue_size,
        max_clients=settings.live_max_clients,
        max_per_caller=settings.live_max_streams_per_caller,
    )
    feed = EventFeed(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        hub=hub,
        credentials=service_credentials(settings),
    )
    await feed.start()
    setattr(app.state, _KEY, Live(hub=hub, feed=feed))
    try:
        yield
    finally:
        setattr(app.state, _KEY, None)
        await feed.stop()
