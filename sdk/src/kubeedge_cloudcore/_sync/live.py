"""The live event stream over SSE: reconnects with `Last-Event-ID`, skips bookkeeping."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from .._retry import RETRY_STATUSES, sleep
from ..errors import ApiError, ConnectionFailed, StreamRevoked
from ..subscribe import Subscription, subscribe
from .base import SyncBase

STREAM_PATH = "/api/kubeedge/monitor/stream"
# Stream bookkeeping, not fleet events: a client that lagged is told how many it lost.
BOOKKEEPING = frozenset({"events_dropped"})


class SyncLive(SyncBase):
    def monitor_stream(
        self,
        events: list[str] | None = None,
        device_id: str | None = None,
        *,
        reconnect: bool = True,
        include_bookkeeping: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield every live event (`{"event": ..., "node_name": ..., ...}`) until stopped.

        Keep-alive comments are skipped. A dropped connection is reopened with
        `Last-Event-ID` after a backoff; a refusal (401, 403, 400) is raised."""
        params = {"events": ",".join(events) if events else None, "device_id": device_id}
        last_id: str | None = None
        failures = 0
        while True:
            try:
                with self._t.sse(STREAM_PATH, params=params, last_event_id=last_id) as source:
                    failures = 0
                    for message in source.iter_sse():
                        if message.id:
                            last_id = message.id
                        if not message.data:
                            continue
                        event = json.loads(message.data)
                        if message.event == "revoked":
                            raise StreamRevoked(str(event.get("reason", "revoked")))
                        if event.get("event") in BOOKKEEPING and not include_bookkeeping:
                            continue
                        yield event
            except ApiError as err:
                if err.status not in RETRY_STATUSES or not reconnect:
                    raise
                wait = self._t.retry.delay(failures, err.retry_after)
                if wait is None:
                    raise
                failures += 1
                sleep(wait)
                continue
            except ConnectionFailed:
                wait = self._t.retry.delay(failures, None)
                if not reconnect or wait is None:
                    raise
                failures += 1
                sleep(wait)
                continue
            if not reconnect:
                return
            # The server ended the stream (a restart, a deploy): open it again.
            sleep(self._t.retry.backoff)

    def subscribe(
        self, topics: Sequence[str] = ("all",), *, include_control: bool = False
    ) -> AbstractContextManager[Subscription]:
        """A WebSocket subscription: `with client.subscribe(["commands"]) as events:`."""
        return subscribe(self._t, topics, include_control=include_control)
