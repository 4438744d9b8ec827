"""Backup schedules that would fill a disk are a 400 before Temporal is asked.

The app has no Temporal (a closed port): a schedule that passes the checks answers 503,
which is how these tests see it was let through.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import bearer

PATH = "/api/kubeedge/backup/schedules/fuzzed"
PRUNES = {"keep_last": 7}


@pytest.fixture
def min_interval() -> int:
    return 300


@pytest.fixture
def settings(settings: Settings, min_interval: int) -> Settings:
    return settings.model_copy(update={"backup_schedule_min_interval_seconds": min_interval})


async def put(client: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    if isinstance(body, str):
        headers = {**bearer(token), "Content-Type": "application/json"}
        return await client.put(PATH, content=body, headers=headers)
    return await client.put(PATH, json=body, headers=bearer(token))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"interval_seconds": 1, "retention": PRUNES}, "interval_seconds"),
        ({"interval_seconds": 299, "retention": PRUNES}, "interval_seconds"),
        ({"cron": "* * * * *", "retention": PRUNES}, "cron"),
        ({"cron": "*/4 * * * *", "retention": PRUNES}, "cron"),
        ({"cron": "@every 1s", "retention": PRUNES}, "cron"),
        ({"cron": "* * * * * * *", "retention": PRUNES}, "cron"),  # with seconds
        ({"interval_seconds": 3600}, "retention"),
        ({"interval_seconds": 3600, "retention": {"keep_last": 0, "keep_days": 0}}, "retention"),
        ({"interval_seconds": 3600, "retention": PRUNES, "keep_forever": True}, "keep_forever"),
        ({"interval_seconds": 10**30, "retention": PRUNES}, "interval_seconds"),
        ('{"interval_seconds": 3600, "retention": {"keep_days": 1e400}}', "retention.keep_days"),
        ({"interval_seconds": 3600, "retention": {"keep_last": 2**64}}, "retention.keep_last"),
    ],
)
async def test_a_schedule_that_would_fill_the_disk_is_400(
    client: httpx.AsyncClient, tokens: dict[Role, str], body: Any, field: str
) -> None:
    answer = await put(client, tokens[Role.ADMIN], body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "API-001"
    assert field in answer.json()["details"]


@pytest.mark.parametrize(
    "body",
    [
        {"interval_seconds": 300, "retention": PRUNES},
        {"cron": "*/5 * * * *", "retention": {"keep_days": 2}},
        {"cron": "@hourly", "retention": PRUNES},
        {"cron": "0 2 * * *", "keep_forever": True},
    ],
)
async def test_a_sane_schedule_goes_on_to_temporal(
    client: httpx.AsyncClient, tokens: dict[Role, str], body: Any
) -> None:
    answer = await put(client, tokens[Role.ADMIN], body)
    assert answer.status_code == 503, answer.text  # no Temporal here: it got that far


@pytest.mark.parametrize("min_interval", [60])
async def test_the_floor_is_configurable(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    allowed = await put(client, tokens[Role.ADMIN], {"cron": "* * * * *", "retention": PRUNES})
    assert allowed.status_code == 503, allowed.text
    refused = await put(client, tokens[Role.ADMIN], {"interval_seconds": 59, "retention": PRUNES})
    assert refused.status_code == 400, refused.text


async def test_the_put_documents_its_400(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    responses = document["paths"]["/api/kubeedge/backup/schedules/{schedule_id}"]["put"]
    assert {"200", "201", "400"} <= set(responses["responses"])
