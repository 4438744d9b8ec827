"""Heartbeats for long async activities that hand blocking work to the worker's thread pool.

Temporal delivers a cancellation to an activity only in answer to a heartbeat, and an
async activity may heartbeat only from its event loop. `Heartbeat.beat` may be called from
any thread (boto3 calls its progress callbacks from its own transfer threads): it records
the progress, forwards a heartbeat to the loop at most once a second, and raises
`Interrupted` once the activity has been cancelled, so the blocking work stops at its next
checkpoint and cleans up (boto3 aborts a multipart upload when its callback raises).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")


class Interrupted(Exception):
    """The activity was cancelled while blocking work was under way."""


class Heartbeat:
    def __init__(self, *, executor: Executor | None, every_seconds: float = 1.0) -> None:
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()  # the activity's: heartbeat needs it
        self._executor = executor
        self._every = every_seconds
        self._lock = threading.Lock()
        self._last = 0.0
        self._details: dict[str, Any] = {}
        self._closed = False
        self.stop = threading.Event()

    def beat(self, **progress: Any) -> None:
        if self.stop.is_set():
            raise Interrupted
        with self._lock:
            self._details.update(progress)
            now = time.monotonic()
            if now - self._last < self._every:
                return
            self._last = now
            details = dict(self._details)
        self._loop.call_soon_threadsafe(self._send, details)

    def counter(self, name: str) -> Callable[[int], None]:
        """A progress callback adding up bytes under `name` (boto3's Callback shape)."""
        total = 0
        lock = threading.Lock()

        def add(amount: int) -> None:
            nonlocal total
            with lock:
                total += amount
                value = total
            self.beat(**{name: value})

        return add

    def _send(self, details: dict[str, Any]) -> None:
        if not self._closed:
            self._context.run(activity.heartbeat, details)

    def close(self) -> None:
        self._closed = True

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking `fn` in the thread pool. When the activity is cancelled meanwhile,
        tell `fn` to stop (via `beat`) and wait for it to finish cleaning up first."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        future = self._loop.run_in_executor(self._executor, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.stop.set()
            with contextlib.suppress(BaseException):
                await future
            raise
