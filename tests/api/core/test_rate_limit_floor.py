"""A rate limit too low to work with is refused: it would lock every caller out."""

from __future__ import annotations

import httpx

from store.access.users import Role
from tests.api.helpers import bearer


async def test_a_limit_of_two_is_refused_and_admins_keep_working(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    admin = bearer(tokens[Role.ADMIN])
    refused = await client.put(
        "/api/kubeedge/config", json={"security": {"rate_limit": 2}}, headers=admin
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "API-001"
    assert "security.rate_limit" in refused.json()["details"]
    for _ in range(3):
        assert (await client.get("/api/kubeedge/config", headers=admin)).status_code == 200

    lowest = await client.put(
        "/api/kubeedge/config", json={"security": {"rate_limit": 10}}, headers=admin
    )
    assert lowest.status_code == 200, lowest.text
    assert lowest.json()["security"]["rate_limit"] == 10
