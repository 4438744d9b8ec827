"""The certificates list (from the worker's snapshot) and the renewal's refusals, which
all answer before Temporal is needed (this app has none: a valid renewal is a 503)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.core.state import app_sessions
from store.access.users import Role
from store.certificates import save_certificates
from store.models import utcnow
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, make_settings

LIST = "/api/kubeedge/security/certificates"
RENEW = "/api/kubeedge/security/certificates/renew"


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, template_db: tuple[Path, list[ApiUser]]
) -> Settings:
    """The suite's settings, with what a test passes (indirect parametrize) on top."""
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    return make_settings(tmp_path, **getattr(request, "param", {}))


def facts(name: str, *, days: float, serial: str = "1F") -> dict[str, Any]:
    now = utcnow()
    return {
        "name": name,
        "secret": name,
        "subject": "O=KubeEdge,CN=KubeEdge",
        "issuer": "CN=KubeEdge",
        "sans": ["IP:192.0.2.10", "DNS:cloudcore.kubeedge.svc"],
        "serial": serial,
        "not_before": (now - timedelta(days=400)).isoformat(),
        "not_after": (now + timedelta(days=days)).isoformat(),
    }


async def observe(app: FastAPI, snapshot: dict[str, Any]) -> None:
    async with app_sessions(app)() as session, session.begin():
        await save_certificates(session, snapshot=snapshot, observed_at=utcnow())


async def test_before_the_worker_read_only_the_api_certificate_is_listed_absent(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    body = (await client.get(LIST, headers=bearer(tokens[Role.VIEWER]))).json()
    assert body["observed_at"] is None
    assert body["expiring_within_days"] == 30
    [api_tls] = body["certificates"]
    assert (api_tls["name"], api_tls["status"], api_tls["renewable"]) == (
        "api-tls",
        "absent",
        False,
    )
    assert "plain HTTP" in api_tls["reason"]


async def test_days_left_and_status_follow_the_threshold(
    client: httpx.AsyncClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    await observe(
        app,
        {
            "certificates": [
                facts("casecret", days=3000.5),
                facts("cloudcoresecret", days=10.5),
                facts("old", days=-2.5),
            ],
            "absent": [{"name": "other", "secret": "other", "reason": "no Secret kubeedge/other"}],
        },
    )
    body = (await client.get(LIST, headers=bearer(tokens[Role.VIEWER]))).json()
    listed = {item["name"]: item for item in body["certificates"]}
    assert body["observed_at"] is not None
    assert (listed["casecret"]["status"], listed["casecret"]["days_left"]) == ("ok", 3000)
    assert listed["casecret"]["renewable"] is False
    assert (listed["cloudcoresecret"]["status"], listed["cloudcoresecret"]["days_left"]) == (
        "expiring",
        10,
    )
    assert listed["cloudcoresecret"]["renewable"] is True
    assert listed["cloudcoresecret"]["sans"] == ["IP:192.0.2.10", "DNS:cloudcore.kubeedge.svc"]
    assert (listed["old"]["status"], listed["old"]["days_left"]) == ("expired", -3)
    assert listed["other"]["status"] == "absent"
    assert listed["api-tls"]["status"] == "absent"


@pytest.mark.parametrize("settings", [{"certificate_expiry_warning_days": 7}], indirect=True)
async def test_the_threshold_is_a_setting(
    client: httpx.AsyncClient, app: FastAPI, tokens: dict[Role, str]
) -> None:
    await observe(app, {"certificates": [facts("cloudcoresecret", days=10.5)], "absent": []})
    body = (await client.get(LIST, headers=bearer(tokens[Role.VIEWER]))).json()
    assert body["expiring_within_days"] == 7
    assert body["certificates"][0]["status"] == "ok"


async def test_renewing_the_ca_is_refused_with_why(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    answer = await client.post(RENEW, json={"name": "casecret"}, headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error"
    assert "every edge node" in body["message"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "nosuchsecret"}, 404),
        ({"name": "api-tls"}, 400),
        ({"name": "Not A Name"}, 400),
        ({"name": "cloudcoresecret\n"}, 400),
        ({}, 400),
        ({"name": "cloudcoresecret", "extra": 1}, 400),
    ],
)
async def test_bad_and_unknown_names(
    client: httpx.AsyncClient, tokens: dict[Role, str], body: dict[str, Any], status: int
) -> None:
    answer = await client.post(RENEW, json=body, headers=bearer(tokens[Role.ADMIN]))
    assert answer.status_code == status, answer.text
    assert answer.json()["status"] == "error"


async def test_only_admins_renew_and_viewers_list(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    for role in (Role.VIEWER, Role.OPERATOR):
        answer = await client.post(
            RENEW, json={"name": "cloudcoresecret"}, headers=bearer(tokens[role])
        )
        assert answer.status_code == 403, role
    assert (await client.get(LIST)).status_code == 401
    # An admin's valid renewal needs Temporal, which this app cannot reach: a 503, not a 500.
    answer = await client.post(
        RENEW, json={"name": "cloudcoresecret"}, headers=bearer(tokens[Role.ADMIN])
    )
    assert answer.status_code == 503


async def test_a_status_url_is_checked_before_temporal_is_needed(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    viewer = bearer(tokens[Role.VIEWER])
    bad = await client.get(f"{LIST}/cloudcoresecret/renewals/not-a-run", headers=viewer)
    assert bad.status_code == 400
    run = "00000000-0000-4000-8000-000000000000"
    unknown = await client.get(f"{LIST}/casecret/renewals/{run}", headers=viewer)
    assert unknown.status_code == 404
