"""The API's Temporal client, connected in the background.

The API must come up even when Temporal is not (yet) reachable: the health endpoints and
everything that only reads the store keep working, and endpoints that need Temporal
answer 503 until a background task has connected (api.core.deps.TemporalDep). The task
connects through adapters.temporal, retrying for as long as the process lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import Protocol

from temporalio.client import Client

from adapters.temporal import OnFailure, connect_temporal
from store.settings import Settings

logger = logging.getLogger(__name__)


class Connect(Protocol):
    """Connects, retrying until it succeeds; tells `on_failure` of each failed attempt."""

    def __call__(self, *, on_failure: OnFailure) -> Awaitable[Client]: ...


def connect_forever(settings: Settings) -> Connect:
    def connect(*, on_failure: OnFailure) -> Awaitable[Client]:
        return connect_temporal(settings, give_up_after=None, on_failure=on_failure)

    return connect


class TemporalConnector:
    """Holds the client once connected; `client` is None until then."""

    def __init__(self, *, connect: Connect) -> None:
        self._connect = connect
        self._client: Client | None = None
        self._first_attempt_done = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def client(self) -> Client | None:
        return self._client

    async def wait_connected(self) -> Client:
        """Block until connected (callers bound the wait themselves)."""
        await self._connected.wait()
        assert self._client is not None
        return self._client

    async def start(self, *, wait_first_attempt: float = 2.0) -> None:
        """Start connecting; wait briefly so a reachable Temporal is ready at startup."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="temporal-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt_done.wait(), wait_first_attempt)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def check_health(self, *, within_seconds: float = 2.0) -> bool:
        """True when connected and the frontend says it is serving."""
        client = self._client
        if client is None:
            return False
        try:
            return await asyncio.wait_for(
                client.service_client.check_health(timeout=timedelta(seconds=within_seconds)),
                within_seconds + 1.0,
            )
        except Exception:  # any failure to answer means "not connected" to a health probe
            logger.debug("Temporal health check failed", exc_info=True)
            return False

    async def _run(self) -> None:
        self._client = await self._connect(on_failure=self._failed)
        self._connected.set()
        self._first_attempt_done.set()

    def _failed(self, attempt: int, error: BaseException | None) -> None:
        # Startup stops waiting at the first failure: the API serves without Temporal.
        self._first_attempt_done.set()
