"""Which error statuses a route can answer, read from the route itself.

The OpenAPI rewrite (api.core.openapi) documents these on every operation, so a route
added later is covered without anyone listing its 401 or 503 by hand:

- a dependency marked with `may_answer` (authentication: 401, 429; a role: 403;
  Temporal and the store's session: 503) lends its statuses to every route that depends
  on it, however deep;
- (the maintenance gate's 503 on writes is written in by its own document rewriter,
  api.maintenance.gate.document_refusals, from the gate's own exemption list);
- a path parameter names something that may not exist: 404, unless the route creates
  what it names (`openapi_extra=CREATES_AT_PATH`, as PUT of a schedule does);
- every request can be a 406 (api.core.versioning).

Statuses only a handler knows (409, 502, a 202) are declared on the route with
`responses=`; the declared description wins over the derived one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__edgewright_may_answer__"
PATH_LOOKUP = "x-edgewright-path-lookup"
# For routes whose path parameter names what they create (an upsert): no 404.
CREATES_AT_PATH: dict[str, Any] = {PATH_LOOKUP: False}


DESCRIPTIONS = {
    400: "Invalid request parameters, one entry per field in details",
    401: "Missing or invalid credentials",
    403: "The caller's role (or node token) does not allow this",
    404: "Nothing found under this path",
    406: "Accept names only API versions this server does not serve; details list the ones it does",
    409: "Conflicts with the current state",
    413: "Request body larger than the configured limit",
    429: "The caller's rate limit is spent; Retry-After says when to retry",
    503: "Unavailable for now (the store or Temporal unreachable or busy, maintenance mode, "
    "or still running); Retry-After says when to retry",
}


def may_answer(*statuses: int) -> Callable[[F], F]:
    """Marks a dependency with the error statuses it can raise."""

    def mark(dependency: F) -> F:
        setattr(dependency, _MARK, frozenset(statuses))
        return dependency

    return mark


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[RouteContext]:
    """Every API route as it is served, in routing order: included routers' routes with
    their prefix and the router's dependencies (FastAPI keeps those apart from the route)."""
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def derived_statuses(route: RouteContext, method: str) -> set[int]:
    found: set[int] = {406}
    for call in _calls(route.dependant):
        found |= getattr(call, _MARK, frozenset())
    if route.dependant.path_params and (route.openapi_extra or {}).get(PATH_LOOKUP, True):
        found.add(404)
    return found


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
