"""Fan-out of bus events to this replica's SSE and WebSocket clients.

Publishing never waits for a client: each client has a bounded queue, and when a slow
client's queue is full its oldest event is dropped (and counted, so the client can be
told). One stalled connection therefore costs only its own events, never anyone else's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Event = dict[str, Any]
Filter = Callable[[Event], bool]


class TooManyClients(Exception):
    """This replica already serves its maximum of live clients."""


class TooManyStreams(Exception):
    """This caller already has its maximum of streams open on this replica."""


class Subscriber:
    def __init__(self, *, size: int, accepts: Filter) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self._ready = asyncio.Event()
        self.accepts = accepts
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if not self.accepts(event):
            return
        if len(self._events) == self._events.maxlen:
            self.dropped += 1  # deque(maxlen) drops the oldest on append
        self._events.append(event)
        self._ready.set()

    async def next(self) -> Event:
        while not self._events:
            self._ready.clear()
            await self._ready.wait()
        return self._events.popleft()

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped


class EventHub:
    def __init__(self, *, queue_size: int, max_clients: int, max_per_caller: int = 5) -> None:
        self._queue_size = queue_size
        self._max_clients = max_clients
        self._max_per_caller = max_per_caller
        self._subscribers: set[Subscriber] = set()
        self._per_caller: dict[str, int] = {}
        self.published = 0

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= self._max_clients

    def publish(self, event: Event) -> None:
        self.published += 1
        for subscriber in self._subscribers:
            subscriber.offer(event)

    def caller_full(self, caller: str) -> bool:
        return self._per_caller.get(caller, 0) >= self._max_per_caller

    @contextmanager
    def subscribe(self, accepts: Filter, *, caller: str | None = None) -> Iterator[Subscriber]:
        if self.full:
            raise TooManyClients(f"at most {self._max_clients} live clients per replica")
        if caller is not None and self.caller_full(caller):
            raise TooManyStreams(f"at most {self._max_per_caller} streams per caller")
        subscriber = Subscriber(size=self._queue_size, accepts=accepts)
        self._subscribers.add(subscriber)
        if caller is not None:
            self._per_caller[caller] = self._per_caller.get(caller, 0) + 1
        try:
            yield subscriber
        finally:
            self._subscribers.discard(subscriber)
            if caller is not None:
                left = self._per_caller.pop(caller) - 1
                if left:
                    self._per_caller[caller] = left
