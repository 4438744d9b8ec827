"""Links into the Temporal Web UI, so every API answer about a run can point at it."""

from __future__ import annotations

from urllib.parse import quote

from store.settings import Settings


def temporal_ui_link(settings: Settings, workflow_id: str) -> str:
    """The Web UI page of the newest run of `workflow_id`.

    Our workflow IDs contain '/' (`device-join/{device_id}`), which the UI expects
    percent-encoded inside one path segment, hence `safe=""`.
    """
    base = settings.temporal_ui_url.rstrip("/")
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{base}/namespaces/{namespace}/workflows/{quote(workflow_id, safe='')}"
