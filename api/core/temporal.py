"""The API's Temporal client, connected in the background.

The API must come up even when Temporal is not (yet) reachable: the health endpoints and
everything that only reads the store keep working, and endpoints that need Temporal
answer 503 until a background task has connected. The task retries with exponential
backoff and jitter for as long as the process lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_exponential_jitter

from store.settings import Settings

logger = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[Client]]


def connect_from_settings(settings: Settings) -> Connect:
    async def connect() -> Client:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )

    return connect


class TemporalConnector:
    """Holds the client once connected; `client` is None until then."""

    def __init__(
        self,
        *,
        connect: Connect,
        target: str,
        attempt_timeout: float = 10.0,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self._connect = connect
        self._target = target  # for log lines only
        self._attempt_timeout = attempt_timeout
        self._wait = wait_exponential_jitter(
            multiplier=initial_backoff, max=max_backoff, jitter=min(1.0, initial_backoff)
        )
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
        retrying = AsyncRetrying(
            wait=self._wait,
            retry=retry_if_exception_type(Exception),
            before_sleep=self._failed,
            reraise=True,
        )
        self._client = await retrying(self._attempt)
        self._connected.set()
        self._first_attempt_done.set()
        logger.info("connected to Temporal at %s", self._target)

    async def _attempt(self) -> Client:
        return await asyncio.wait_for(self._connect(), self._attempt_timeout)

    def _failed(self, state: RetryCallState) -> None:
        self._first_attempt_done.set()
        error = state.outcome.exception() if state.outcome else None
        delay = state.upcoming_sleep
        # The first failure is worth a warning; repeating it every backoff step is noise.
        level = logging.WARNING if state.attempt_number == 1 else logging.INFO
        logger.log(
            level,
            "Temporal at %s not reachable (attempt %d: %s); retrying in %.1fs",
            self._target,
            state.attempt_number,
            error,
            delay,
        )
