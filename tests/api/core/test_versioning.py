"""API versions by media type (api.core.versioning): what is answered for which Accept."""

from __future__ import annotations

import httpx
import pytest

from api.core.versioning import Negotiated, negotiate
from store.access.users import Role
from tests.api.helpers import bearer

V1 = "application/vnd.kubeedge.v1+json"
V9 = "application/vnd.kubeedge.v9+json"
PLAIN = Negotiated(media_type=None)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, PLAIN),
        ("application/json", PLAIN),
        ("*/*", PLAIN),
        ("text/html,application/xhtml+xml", PLAIN),  # not ours to refuse: answered as before
        (V1, Negotiated(media_type=V1)),
        ("application/vnd.kubeedge+json", Negotiated(media_type=V1)),  # no version: current
        (f"{V9}, {V1};q=0.5", Negotiated(media_type=V1)),
        (f"{V9}, application/json;q=0.1", PLAIN),  # a fallback the client accepts
        (V9, Negotiated(media_type=None, acceptable=False)),
        (f"{V9}, {V1};q=0", Negotiated(media_type=None, acceptable=False)),
        (f"{V1};q=banana", PLAIN),  # a malformed weight is not a yes
    ],
)
def test_negotiate(accept: str | None, expected: Negotiated) -> None:
    assert negotiate(accept) == expected


async def test_v1_is_answered_as_v1(client: httpx.AsyncClient, tokens: dict[Role, str]) -> None:
    answer = await client.get(
        "/api/kubeedge/devices", headers={**bearer(tokens[Role.VIEWER]), "Accept": V1}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == V1
    assert answer.headers["api-version"] == "v1"
    assert "count" in answer.json()


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
async def test_plain_json_as_today(
    client: httpx.AsyncClient, tokens: dict[Role, str], accept: str | None
) -> None:
    headers = bearer(tokens[Role.VIEWER]) | ({"Accept": accept} if accept else {})
    answer = await client.get("/api/kubeedge/devices", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert "accept" in answer.headers["vary"].lower()


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/api/kubeedge/devices", {"status": "error", "code": "API-001"}),
        ("/api/v1/nodes", {"error": True, "code": "NOT_ACCEPTABLE"}),
    ],
)
async def test_unknown_version_is_406_listing_the_supported(
    client: httpx.AsyncClient, tokens: dict[Role, str], path: str, envelope: dict[str, object]
) -> None:
    answer = await client.get(path, headers={**bearer(tokens[Role.VIEWER]), "Accept": V9})
    assert answer.status_code == 406
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert {k: body[k] for k in envelope} == envelope
    assert body["details"]["supported_versions"] == ["v1"]
    assert V1 in body["details"]["supported_media_types"]
    assert answer.headers["api-version"] == "v1"


async def test_errors_are_labelled_too(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/kubeedge/devices", headers={"Accept": V1})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == V1
    assert answer.json()["code"] == "API-002"


async def test_every_answer_carries_the_version(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    answers = [
        await client.get("/api/kubeedge/devices", headers=viewer),  # 200
        await client.get("/api/kubeedge/devices"),  # 401
        await client.post("/api/kubeedge/device/join", headers=viewer, json={}),  # 403
        await client.get("/api/kubeedge/device/nobody", headers=viewer),  # 404
        await client.get("/api/v1/no-such-route"),  # 404 of the router
        await client.patch("/api/kubeedge/devices", headers=viewer),  # 405
        await client.post("/api/v1/nodes", content=b"x" * 10_000_000),  # 413
        await client.get("/api/health"),  # public; 200 or 503 (Temporal is down here)
        await client.get("/openapi.json"),
        await client.get("/docs"),  # HTML keeps its type
        await client.get("/api/kubeedge/postman.json"),
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:7] == [200, 401, 403, 404, 404, 405, 413]
    assert all(answer.headers.get("api-version") == "v1" for answer in answers), statuses
    assert answers[-2].headers["content-type"].startswith("text/html")
