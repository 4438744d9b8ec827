"""Raw, read-only Kubernetes calls shared by the node sync, the removal and CloudCore.

Everything comes back as the JSON the API sent (camelCase dicts): the typed models reject
objects missing fields they call required, and the parsing in adapters.kubernetes.facts is
plain dict work. Lists are paged with `limit`/`continue` so a fleet of ten thousand nodes
never arrives as one response. Callers wrap the calls in `kube_errors` themselves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from adapters.kubernetes.client import REQUEST_TIMEOUT, KubeTarget

Body = dict[str, Any]


def raw(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Body:
    response = call(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    body: Body = json.loads(response.data)  # reading it all hands the connection back
    return body


def raw_or_none(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Body | None:
    """GET one object; None when it does not exist."""
    try:
        return raw(call, *args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


class KubeReader:
    def __init__(self, *, target: KubeTarget) -> None:
        self.core = client.CoreV1Api(target.api_client)
        self.apps = client.AppsV1Api(target.api_client)
        self._version = client.VersionApi(target.api_client)

    def pages(
        self, list_call: Callable[..., Any], *args: Any, page_size: int
    ) -> Iterator[list[Body]]:
        """Yield the items of a list call page by page."""
        token: str | None = None
        while True:
            extra: dict[str, Any] = {"limit": page_size}
            if token:
                extra["_continue"] = token
            listing = raw(list_call, *args, **extra)
            yield list(listing.get("items") or [])
            token = (listing.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def server_version(self) -> str | None:
        """The API server's git version; None when it does not say (the sandbox)."""
        try:
            return str(raw(self._version.get_code).get("gitVersion") or "") or None
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
