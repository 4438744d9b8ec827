"""Durations as `kubectl` users read them ("45s", "12m", "5h", "2d")."""

from __future__ import annotations

from datetime import datetime


def age(since: datetime | None, *, now: datetime) -> str | None:
    """How long ago `since` was, in the largest whole unit up to days; None when unknown."""
    if since is None:
        return None
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
