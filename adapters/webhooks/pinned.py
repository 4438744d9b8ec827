"""The resolver of a delivery attempt: only the addresses adapters.webhooks.targets checked."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult


class PinnedResolver(AbstractResolver):
    """Answers the checked addresses for the webhook's host, and refuses every other."""

    def __init__(self, host: str, results: list[ResolveResult]) -> None:
        self._host = host
        self._results = results

    async def resolve(
        self, host: str, port: int = 0, family: Any = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._host:
            raise OSError(f"{host} was not checked")
        return [dict(result, port=port or result["port"]) for result in self._results]  # type: ignore[misc]

    async def close(self) -> None:
        return None
