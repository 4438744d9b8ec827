"""What every client shares: the transport, request bodies, pages, and waiting."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, Self, TypeVar

from pydantic import SecretStr

from .._base import Model
from .._retry import monotonic, sleep
from ..errors import WaitTimeout
from .transport import PAGE_SIZE, SyncTransport

M = TypeVar("M", bound=Model)


def _plain(value: Any) -> Any:
    """JSON-ready: secrets revealed (they are what the request sends), dates as ISO text."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def body_of(body: Model | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A request body from a generated model or a dict, plus keyword fields (set ones)."""
    if isinstance(body, Model):
        data = body.model_dump(by_alias=True, exclude_unset=True)
    else:
        data = dict(body or {})
    data.update((key, value) for key, value in fields.items() if value is not None)
    return dict(_plain(data))


class SyncBase:
    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    @property
    def transport(self) -> SyncTransport:
        return self._t

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pages(
        self, path: str, model: type[M], key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[Any]:
        """Every item of a paged collection, a page of PAGE_SIZE at a time."""
        page = 1
        while True:
            query = {**(params or {}), "page": page, "limit": PAGE_SIZE}
            answer = self._t.send("GET", path, model, params=query)
            for item in getattr(answer, key):
                yield item
            pagination = getattr(answer, "pagination", None)
            if pagination is None or page >= pagination.pages:
                return
            page += 1

    def _wait(
        self,
        path: str,
        model: type[M],
        done: Callable[[M], bool],
        *,
        timeout: float | None,
        poll: float,
        on_progress: Callable[[M], None] | None = None,
    ) -> M:
        """Poll `path` until `done` says so; WaitTimeout after `timeout` seconds."""
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            seen = self._t.send("GET", path, model)
            if on_progress is not None:
                on_progress(seen)
            if done(seen):
                return seen
            if deadline is not None and monotonic() >= deadline:
                raise WaitTimeout(f"{path} not finished after {timeout} s", last=seen)
            sleep(poll)
