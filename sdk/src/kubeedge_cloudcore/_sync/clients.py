"""The two clients: CloudCore (`/api/auth`, `/api/kubeedge`) and the Edge API (`/api/v1`)."""

from __future__ import annotations

import httpx

from .._retry import RetryPolicy
from .access import SyncAccess
from .backups import SyncBackups
from .commands import SyncCommands
from .devices import SyncDevices
from .edge import SyncEdgeAPI
from .live import SyncLive
from .operations import SyncOperations
from .transport import DEFAULT_TIMEOUT, SyncTransport


class EdgeClient(SyncEdgeAPI):
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
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            SyncTransport(
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


class CloudCoreClient(SyncDevices, SyncCommands, SyncBackups, SyncAccess, SyncOperations, SyncLive):
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
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            SyncTransport(
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
        self.edge = SyncEdgeAPI(self._t)
