"""The two clients: CloudCore (`/api/auth`, `/api/kubeedge`) and the Edge API (`/api/v1`)."""

from __future__ import annotations

import httpx

from .._retry import RetryPolicy
from .access import AsyncAccess
from .backups import AsyncBackups
from .commands import AsyncCommands
from .devices import AsyncDevices
from .edge import AsyncEdgeAPI
from .live import AsyncLive
from .operations import AsyncOperations
from .transport import DEFAULT_TIMEOUT, AsyncTransport


class AsyncEdgeClient(AsyncEdgeAPI):
    """Nodes, workloads and rollouts, metrics and security tokens of `/api/v1`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            AsyncTransport(
                base_url,
                api_key=api_key,
                token=token,
                username=username,
                password=password,
                timeout=timeout,
                retry=retry,
                http=http,
            )
        )


class AsyncCloudCoreClient(
    AsyncDevices, AsyncCommands, AsyncBackups, AsyncAccess, AsyncOperations, AsyncLive
):
    """Every CloudCore endpoint; `.edge` is the Edge API client on the same connection."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            AsyncTransport(
                base_url,
                api_key=api_key,
                token=token,
                username=username,
                password=password,
                timeout=timeout,
                retry=retry,
                http=http,
            )
        )
        self.edge = AsyncEdgeAPI(self._t)
