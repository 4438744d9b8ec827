"""The CloudCore lists answer every item when the client does not page (the document's
lists have no pagination), up to a cap past which a Link points on; `count` is the
number of items in the answer."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.core.state import app_sessions
from store import workloads
from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, make_settings
from tests.api.inventory_helpers import add_devices, add_token
from workflows.contracts.workloads import WorkloadSpec

CAP = 100  # the smallest cap Settings accepts, so the test stays small


@pytest.fixture
def settings(tmp_path: Path, template_db: tuple[Path, list[ApiUser]]) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    return make_settings(tmp_path, list_cap=CAP)


async def add_apps(app: FastAPI, count: int, *, prefix: str) -> None:
    async with app_sessions(app)() as session, session.begin():
        for i in range(count):
            spec = WorkloadSpec(name=f"{prefix}-{i:03d}", namespace="default", image="nginx:1.27")
            await workloads.create_workload(
                session, workload_id=str(uuid.uuid4()), spec=spec, source="apps", created_by=None
            )


async def fill(app: FastAPI, key: str, count: int, *, prefix: str = "a") -> None:
    if key == "tokens":
        for i in range(count):
            await add_token(app, token_id=f"{prefix}{i:03d}", node_name=f"{prefix}-node-{i:03d}")
    elif key == "apps":
        await add_apps(app, count, prefix=prefix)
    else:
        await add_devices(app, count, prefix=prefix)


IDENTITY = {"devices": "device_id", "tokens": "token_id", "apps": "id"}
LISTS = [("/api/kubeedge/devices", "devices"), ("/api/kubeedge/tokens", "tokens"),
         ("/api/kubeedge/apps", "apps")]  # fmt: skip


@pytest.mark.parametrize(("path", "key"), LISTS)
async def test_without_paging_every_item_up_to_the_cap(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], path: str, key: str
) -> None:
    auth = bearer(tokens[Role.VIEWER])
    empty = await client.get(path, headers=auth)
    assert empty.json()["count"] == 0
    assert "link" not in empty.headers

    await fill(app, key, 45)
    whole = await client.get(path, headers=auth)
    assert whole.status_code == 200
    body = whole.json()
    assert (len(body[key]), body["count"]) == (45, 45)  # not the first 20
    assert body["pagination"] == {
        "total": 45, "page": 1, "limit": CAP, "pages": 1, "truncated": False, "next": None
    }  # fmt: skip
    assert "link" not in whole.headers

    await fill(app, key, 85, prefix="b")
    capped = await client.get(path, headers=auth)
    body = capped.json()
    assert (len(body[key]), body["count"]) == (CAP, CAP)
    assert body["pagination"]["total"] == 130
    assert body["pagination"]["truncated"] is True
    rest_url = f"{path}?page=2&limit=100"
    assert body["pagination"]["next"] == rest_url
    assert capped.headers["link"] == f'<{rest_url}>; rel="next"'
    rest = (await client.get(rest_url, headers=auth)).json()
    assert rest["count"] == 30
    assert rest["pagination"]["next"] is None
    seen = [item[IDENTITY[key]] for item in body[key] + rest[key]]
    assert len(set(seen)) == 130


@pytest.mark.parametrize(("path", "key"), LISTS)
async def test_paging_when_asked_and_count_is_the_page(
    app: FastAPI, client: httpx.AsyncClient, tokens: dict[Role, str], path: str, key: str
) -> None:
    auth = bearer(tokens[Role.VIEWER])
    await fill(app, key, 45)
    first = await client.get(path, params={"limit": 20}, headers=auth)
    body = first.json()
    assert (len(body[key]), body["count"]) == (20, 20)
    assert body["pagination"]["total"] == 45
    assert body["pagination"]["truncated"] is False
    assert first.headers["link"] == f'<{path}?page=2&limit=20>; rel="next"'
    page_only = (await client.get(path, params={"page": 3}, headers=auth)).json()
    assert (page_only["count"], page_only["pagination"]["limit"]) == (5, 20)
    assert page_only["pagination"]["next"] is None
