"""Oversized request bodies: 413 in the contract's envelope, before auth or parsing."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from store.access.users import Role
from store.settings import Settings
from tests.api.helpers import ApiUser, bearer, make_settings

LIMIT = 2048
BATCH_LIMIT = 8192


@pytest.fixture
def settings(tmp_path: Path, template_db: tuple[Path, list[ApiUser]]) -> Settings:
    shutil.copyfile(template_db[0], tmp_path / "edgewright.db")
    return make_settings(
        tmp_path,
        max_body_bytes=LIMIT,
        max_batch_join_body_bytes=BATCH_LIMIT,
        max_restore_body_bytes=BATCH_LIMIT,
    )


def assert_413(response: httpx.Response, *, edge: bool, limit: int = LIMIT) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    if edge:
        assert body["error"] is True
        assert body["code"] == "PAYLOAD_TOO_LARGE"
    else:
        assert body["status"] == "error"
        assert body["code"] == "API-001"
    assert body["details"] == {"max_bytes": limit}


@pytest.mark.parametrize(
    ("path", "edge"), [("/api/kubeedge/device/join", False), ("/api/v1/nodes", True)]
)
async def test_declared_length_is_refused_before_a_byte_is_read(
    app: FastAPI, path: str, edge: bool
) -> None:
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{" * (LIMIT + 1), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(200 * 2**20).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 413
    assert reads == 0  # no credentials, and not one byte of the body taken


async def chunks(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 512):
        yield b" " * 512


@pytest.mark.parametrize(
    ("path", "edge"), [("/api/kubeedge/device/join", False), ("/api/v1/nodes", True)]
)
async def test_streamed_body_is_counted(client: httpx.AsyncClient, path: str, edge: bool) -> None:
    # No Content-Length (chunked): refused once the count passes the limit, before auth.
    response = await client.post(path, content=chunks(4 * LIMIT))

    assert "content-length" not in response.request.headers
    assert_413(response, edge=edge)


async def test_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/kubeedge/device/join", content=b"{" * (LIMIT - 1))

    assert response.status_code == 400  # parsed, and found to be bad JSON


@pytest.mark.parametrize("path", ["/api/kubeedge/batch-join", "/api/kubeedge/restore"])
async def test_batch_join_and_restore_take_more(
    client: httpx.AsyncClient, tokens: dict[Role, str], path: str
) -> None:
    headers = {**bearer(tokens[Role.ADMIN]), "Content-Type": "application/json"}

    bigger = await client.post(path, content=b"{" * (2 * LIMIT), headers=headers)
    too_big = await client.post(path, content=b"{" * (BATCH_LIMIT + 1), headers=headers)
    streamed = await client.post(path, content=chunks(2 * BATCH_LIMIT), headers=headers)

    assert bigger.status_code != 413
    assert_413(too_big, edge=False, limit=BATCH_LIMIT)
    assert_413(streamed, edge=False, limit=BATCH_LIMIT)


async def test_batch_join_upload_is_limited(
    client: httpx.AsyncClient, tokens: dict[Role, str]
) -> None:
    files = {"file": ("devices.csv", b"device_id\n" + b"d\n" * BATCH_LIMIT, "text/csv")}

    response = await client.post(
        "/api/kubeedge/batch-join", files=files, headers=bearer(tokens[Role.OPERATOR])
    )

    assert_413(response, edge=False, limit=BATCH_LIMIT)


async def test_openapi_declares_413_for_every_body(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    with_body = [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation or (path, method) == ("/api/kubeedge/batch-join", "post")
    ]
    assert len(with_body) > 10
    for path, method, operation in with_body:
        assert "413" in operation["responses"], f"{method.upper()} {path}"
