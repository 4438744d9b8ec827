"""device_id -> node_name, so events can name the node as the seed's events do."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.devices import presence

log = logging.getLogger(__name__)


class NodeNames:
    """A cache filled from the store; unknown devices are looked up in batches."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._names: dict[str, str] = {}
        self._unknown: set[str] = set()

    def get(self, device_id: str) -> str | None:
        name = self._names.get(device_id)
        if name is None:
            self._unknown.add(device_id)
        return name

    def forget(self, device_id: str) -> None:
        self._names.pop(device_id, None)

    async def refresh(self) -> None:
        if not self._unknown:
            return
        wanted, self._unknown = sorted(self._unknown), set()
        async with self._sessions() as session:
            self._names.update(await presence.node_names(session, device_ids=wanted))
