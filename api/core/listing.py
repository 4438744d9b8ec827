"""The CloudCore lists (`/devices`, `/tokens`, `/apps`): every item unless the client pages.

The CloudCore document's lists have no pagination, so a client written against it reads
the whole list from one answer. Without `page` and `limit` a list answers every item, up
to `EDGEWRIGHT_LIST_CAP` (10,000); past it, `pagination.truncated` is true and a
`Link: <...>; rel="next"` header (also `pagination.next`) points at the rest, in pages of
the largest limit. With `page` or `limit` it pages as every collection does. `count` is
the number of items in this answer; the total is `pagination.total`.

A whole list is streamed: the rows are fetched once and each chunk of items is rendered
and encoded as it is written, so a 10,000-item answer never exists as models and as a
JSON tree at the same time (FastAPI's response_model path would build both, and validate
them again). The device list goes further (`EncodedItems`, `encoded_list_response`): the
database renders each item's JSON, read a chunk at a time from a server-side cursor, so
only the items' JSON is ever alive. A page (at most MAX_LIMIT items) is one plain body:
a stream costs a chunked answer and a send per chunk, which for 100 items is most of the
work of the request. Items render to a model
or to a plain dict of JSON-ready values; pydantic_core encodes either, a chunk at a time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from pydantic_core import to_json

from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, Pagination
from api.core.state import app_settings

R = TypeVar("R")
_PAGING = frozenset({"page", "limit"})

# Items encoded per chunk written: fewer, larger writes; the loop gets a turn between them.
CHUNK_ITEMS = 200


# For the routes' OpenAPI: the header that points at the rest of a list.
LINK_HEADER: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": '`<url>; rel="next"` while more items follow (past the cap '
                "without paging, or a next page)",
                "schema": {"type": "string"},
            }
        }
    }
}


@dataclass(frozen=True)
class ListWindow:
    paged: bool
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


class ListPagination(Pagination):
    truncated: bool = Field(
        description="Without page/limit: true when the list stopped at the cap; see `next`"
    )
    next: str | None = Field(description="The rest of the list (also the Link header)")


async def _window(  # a coroutine: FastAPI runs a plain function in a thread (api.core.deps)
    request: Request,
    page: Annotated[
        int | None,
        Query(ge=1, le=MAX_PAGE, description="Page number; without page and limit: every item"),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LIMIT, description=f"Items per page (default {DEFAULT_LIMIT})"),
    ] = None,
) -> ListWindow:
    if page is None and limit is None:
        return ListWindow(paged=False, page=1, limit=app_settings(request.app).list_cap)
    return ListWindow(paged=True, page=page or 1, limit=limit or DEFAULT_LIMIT)


ListDep = Annotated[ListWindow, Depends(_window)]


def _next_url(request: Request, window: ListWindow) -> str:
    if window.paged:
        page, limit = window.page + 1, window.limit
    else:  # the cap is a multiple of MAX_LIMIT (Settings), so the rest starts a page
        page, limit = window.limit // MAX_LIMIT + 1, MAX_LIMIT
    # The client's other parameters (filters) kept, in their order; relative, so right
    # behind any proxy. Encoded here rather than by two rounds of Starlette's URL
    # replacement, which were a twentieth of a device page's time (py-spy).
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in _PAGING]
    query = urlencode([*kept, ("page", page), ("limit", limit)])
    return f"{request.url.path}?{query}"


def list_pagination(request: Request, window: ListWindow, *, total: int) -> ListPagination:
    more = window.offset + window.limit < total
    return ListPagination(
        total=total,
        page=window.page,
        limit=window.limit,
        pages=(total + window.limit - 1) // window.limit,
        truncated=more and not window.paged,
        next=_next_url(request, window) if more else None,
    )


Item = BaseModel | Mapping[str, Any]


def _encoded(items: Sequence[Item]) -> bytes:
    return to_json(items)[1:-1]  # the items, without the brackets


class EncodedItems:
    """A list's items as the store encoded them (one JSON text each), gathered a chunk at
    a time: the device list (store/devices/list_json.py)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.count = 0

    def add_json(self, items: Sequence[str]) -> None:
        self.add_joined(",".join(items), len(items))

    def add_joined(self, joined: str, count: int) -> None:
        """`count` items whose texts are already joined by commas."""
        if count:
            self.parts.append(joined.encode())
            self.count += count


def list_response(
    request: Request,
    *,
    key: str,
    rows: Sequence[R],
    render: Callable[[R], Item],
    window: ListWindow,
    total: int,
    head: Mapping[str, Any] | None = None,
) -> Response:
    """`{**head, "count", key: [render(row)...], "pagination"}`, encoded chunk by chunk."""

    def items() -> Iterator[bytes]:
        for start in range(0, len(rows), CHUNK_ITEMS):
            yield _encoded([render(row) for row in rows[start : start + CHUNK_ITEMS]])

    return _respond(
        request, key=key, count=len(rows), items=items(), window=window, total=total, head=head
    )


def encoded_list_response(
    request: Request,
    *,
    key: str,
    items: EncodedItems,
    window: ListWindow,
    total: int,
    head: Mapping[str, Any] | None = None,
) -> Response:
    """`list_response` for items already encoded."""
    return _respond(
        request,
        key=key,
        count=items.count,
        items=iter(items.parts),
        window=window,
        total=total,
        head=head,
    )


def _respond(
    request: Request,
    *,
    key: str,
    count: int,
    items: Iterator[bytes],
    window: ListWindow,
    total: int,
    head: Mapping[str, Any] | None,
) -> Response:
    page = list_pagination(request, window, total=total)
    opening = {**(head or {}), "count": count}

    def parts() -> Iterator[bytes]:
        yield json.dumps(opening)[:-1].encode() + f', "{key}": ['.encode()
        for index, chunk in enumerate(items):
            yield (b"," if index else b"") + chunk
        yield b'], "pagination": ' + page.model_dump_json().encode() + b"}"

    headers = {"Link": f'<{page.next}>; rel="next"'} if page.next else None
    if window.paged:
        return Response(b"".join(parts()), media_type="application/json", headers=headers)

    async def body() -> AsyncIterator[bytes]:
        for part in parts():  # the loop gets a turn between chunks
            yield part

    return StreamingResponse(body(), media_type="application/json", headers=headers)
