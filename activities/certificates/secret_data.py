"""A Secret's data as bytes, and the merge patch that makes its data something else."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

Body = dict[str, Any]


def decoded(secret: Body) -> dict[str, bytes]:
    data = secret.get("data") or {}
    return {key: base64.b64decode(value) for key, value in data.items()}


def annotation(secret: Body, key: str) -> str | None:
    value = ((secret.get("metadata") or {}).get("annotations") or {}).get(key)
    return str(value) if value is not None else None


def data_patch(secret: Body, data: Mapping[str, bytes], *, annotations: Mapping[str, str]) -> Body:
    """A merge patch giving `secret` exactly `data` (keys it drops set to null) and
    `annotations`. It carries the resourceVersion read, which the API server takes as a
    precondition: if the Secret changed since, the patch is a 409 and nothing is written."""
    current = secret.get("data") or {}
    encoded: dict[str, str | None] = {key: None for key in current if key not in data}
    encoded |= {key: base64.b64encode(value).decode() for key, value in data.items()}
    meta: Body = {"annotations": dict(annotations)}
    version = (secret.get("metadata") or {}).get("resourceVersion")
    if version:
        meta["resourceVersion"] = version
    return {"metadata": meta, "data": encoded}
