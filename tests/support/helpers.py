"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from workers.processes import free_port

__all__ = ["eventually", "free_port", "polled", "wait_for_port"]

T = TypeVar("T")


async def wait_for_port(host: str, port: int, *, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float = 30.0) -> T:
    """Poll `check` until it returns something truthy (the sdk-python tests' assert_eventually)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


def polled(answer: httpx.Response) -> Any:
    """A poll's body: None for a 503 (Temporal, the worker behind a query or the store was
    busy: ask again), the JSON of a 200; any other status fails the test. An error envelope
    is never taken for the state it was polled for."""
    if answer.status_code == 503:
        return None
    assert answer.status_code == 200, answer.text
    return answer.json()
