"""Numbers past what the store or datetime can hold are a 400 in the envelope, never a 500."""

from __future__ import annotations

import httpx
import pytest

from store.access.users import Role
from tests.api.helpers import bearer

HUGE_PAGE = "999999999999999999"
PAST_INT64 = str(2**63)
PAST_INT32 = str(2**31)


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/api/auth/users", {"status": "error", "code": "API-001"}),
        ("/api/auth/api-keys", {"status": "error", "code": "API-001"}),
        ("/api/kubeedge/devices", {"status": "error", "code": "API-001"}),
        ("/api/v1/nodes", {"error": True, "code": "BAD_REQUEST"}),
    ],
)
async def test_a_page_past_any_offset_is_400(
    client: httpx.AsyncClient, tokens: dict[Role, str], path: str, envelope: dict[str, object]
) -> None:
    response = await client.get(f"{path}?page={HUGE_PAGE}", headers=bearer(tokens[Role.ADMIN]))
    assert response.status_code == 400, response.text
    body = response.json()
    assert {key: body[key] for key in envelope} == envelope
    assert "page" in body["details"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("user_id", [PAST_INT64, PAST_INT32, "0"])
async def test_a_user_id_out_of_range_is_400(
    client: httpx.AsyncClient, tokens: dict[Role, str], method: str, user_id: str
) -> None:
    response = await client.request(
        method, f"/api/auth/users/{user_id}", headers=bearer(tokens[Role.ADMIN])
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "API-001"
    assert "user_id" in response.json()["details"]


async def test_an_api_key_id_out_of_range_is_400(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    for ref in (PAST_INT64, PAST_INT32):
        response = await client.delete(f"/api/auth/api-keys/{ref}", headers=admin)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "API-001"
    # Digits that are not ASCII are no id, just a key_id nobody has.
    other_digits = await client.delete("/api/auth/api-keys/%C2%B2", headers=admin)
    assert other_digits.status_code == 404, other_digits.text


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:00:00-12:00",  # past year 9999 once in UTC
        "9999-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",  # further ahead than expires_in_days allows
    ],
)
async def test_an_api_key_expiry_out_of_range_is_400(
    client: httpx.AsyncClient, tokens: dict[Role, str], expires_at: str
) -> None:
    response = await client.post(
        "/api/auth/api-keys",
        json={"name": "ci", "role": "viewer", "expires_at": expires_at},
        headers=bearer(tokens[Role.ADMIN]),
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "API-001"
    assert "expires_at" in response.json()["details"]
    listing = await client.get("/api/auth/api-keys", headers=bearer(tokens[Role.ADMIN]))
    assert listing.json()["api_keys"] == []  # nothing written
