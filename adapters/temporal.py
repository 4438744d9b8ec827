"""Connecting to Temporal, the one way every process does it.

The worker, the MQTT bridge and the API all start before Temporal may be reachable (as in
`make run`, where they start together), so they connect through `connect_temporal`: the
settings' address and namespace, the pydantic data converter the contracts need, and one
retry policy. The worker and the bridge give up after a while and exit; the API keeps
trying for as long as it lives (api.core.temporal).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_delay
from tenacity.stop import stop_never
from tenacity.wait import wait_exponential_jitter

from store.settings import Settings

logger = logging.getLogger(__name__)

# How long a process that cannot work without Temporal waits for it at startup.
STARTUP_PATIENCE_SECONDS = 120.0

Connect = Callable[[], Awaitable[Client]]
# Told of each failed attempt: its number and what it failed with.
OnFailure = Callable[[int, BaseException | None], None]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter between attempts; each attempt bounded in time."""

    initial: float = 0.5
    maximum: float = 5.0
    attempt_timeout: float = 10.0


async def connect_temporal(
    settings: Settings,
    *,
    give_up_after: float | None = STARTUP_PATIENCE_SECONDS,
    on_failure: OnFailure | None = None,
    runtime: Runtime | None = None,
) -> Client:
    """A client for the settings' Temporal, retrying until it answers.

    `give_up_after=None` retries for as long as the caller waits (it may cancel); otherwise
    the last error is raised once that many seconds have passed. `runtime` carries the
    worker's metrics (adapters.prometheus.temporal); None is the SDK's default.
    """

    tls = tls_config(settings)
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None

    async def connect() -> Client:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
            tls=tls,
            api_key=api_key,
            runtime=runtime,
        )

    return await retry_connect(
        connect,
        target=settings.temporal_address,
        give_up_after=give_up_after,
        on_failure=on_failure,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The settings' TLS: False for the dev server, else a TLSConfig (files read once, here).

    An API key or a client certificate means TLS even when EDGEWRIGHT_TEMPORAL_TLS is unset:
    Temporal Cloud takes neither in clear text.
    """
    wanted = (
        settings.temporal_tls
        or settings.temporal_api_key is not None
        or settings.temporal_tls_cert_file is not None
    )
    if not wanted:
        return False
    ca, cert, key = (
        path.read_bytes() if path is not None else None
        for path in (
            settings.temporal_tls_ca_file,
            settings.temporal_tls_cert_file,
            settings.temporal_tls_key_file,
        )
    )
    return TLSConfig(
        server_root_ca_cert=ca,
        client_cert=cert,
        client_private_key=key,
        domain=settings.temporal_tls_server_name,
    )


async def retry_connect(
    connect: Connect,
    *,
    target: str,
    give_up_after: float | None = STARTUP_PATIENCE_SECONDS,
    on_failure: OnFailure | None = None,
    backoff: Backoff = Backoff(),
) -> Client:
    """`connect` under the retry policy (connect_temporal's; tests give their own connect)."""

    def failed(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        # The first failure is worth a warning; repeating it every backoff step is noise.
        level = logging.WARNING if state.attempt_number == 1 else logging.INFO
        logger.log(
            level,
            "Temporal at %s not reachable (attempt %d: %s); retrying in %.1fs",
            target,
            state.attempt_number,
            error,
            state.upcoming_sleep,
        )
        if on_failure is not None:
            on_failure(state.attempt_number, error)

    async def attempt() -> Client:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
        # arrives as the attempt fails, and the retries would outlive the API's shutdown.
        async with asyncio.timeout(backoff.attempt_timeout):
            return await connect()

    retrying = AsyncRetrying(
        wait=wait_exponential_jitter(
            multiplier=backoff.initial, max=backoff.maximum, jitter=min(1.0, backoff.initial)
        ),
        # Any failure: connection refused, a timeout, a server still starting up.
        retry=retry_if_exception_type(Exception),
        stop=stop_never if give_up_after is None else stop_after_delay(give_up_after),
        before_sleep=failed,
        reraise=True,
    )
    client: Client = await retrying(attempt)
    logger.info("connected to Temporal at %s", target)
    return client
