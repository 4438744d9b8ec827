"""Pagination shared by every collection of both contracts.

`page` starts at 1, `limit` defaults to 20 and is at most 100 (Edge API document); the
answer carries a `pagination` block `{total, page, limit, pages}`. Out-of-range values
are a 400 in the contract's envelope, not silently clamped. `page` is bounded so the
offset fits every database's integers (it used to reach the driver and fail there).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_PAGE = 10_000_000  # offset at most ~10^9: within a 32-bit integer at MAX_LIMIT


class PageParams(BaseModel):
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


class Pagination(BaseModel):
    total: int
    page: int
    limit: int
    pages: int


async def _page_params(  # a coroutine: FastAPI runs a plain function in a thread (api.core.deps)
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE}")
    ] = 1,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(page=page, limit=limit)


PageDep = Annotated[PageParams, Depends(_page_params)]


def pagination(params: PageParams, *, total: int) -> Pagination:
    pages = (total + params.limit - 1) // params.limit
    return Pagination(total=total, page=params.page, limit=params.limit, pages=pages)
