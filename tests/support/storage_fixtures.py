"""Object storage for tests: moto's S3 server over HTTP on a free loopback port.

The server is real HTTP (moto.server.ThreadedMotoServer): boto3 is used exactly as in
production, nothing is patched. Credentials reach boto3 the usual way, through the
environment, set here for the session (moto accepts any).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from store.settings import Settings
from tests.support.helpers import free_port

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # A developer's own profile or config must not leak into the tests.
    "AWS_CONFIG_FILE": "/nonexistent/edgewright-tests",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/edgewright-tests",
}
_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self) -> object:
        return boto3.client("s3", endpoint_url=self.endpoint)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    saved = {name: os.environ.get(name) for name in (*_AWS_ENV, *_UNSET)}
    os.environ.update(_AWS_ENV)
    for name in _UNSET:
        os.environ.pop(name, None)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket on the session's S3 server."""
    name = f"backups-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server.endpoint).create_bucket(Bucket=name)
    return name


@dataclass(frozen=True)
class Target:
    """Where a test's backups go: `location` for the settings, plus how to reach it."""

    kind: str  # "s3" or "file"
    location: str
    endpoint: str | None
    bucket: str | None = None
    root: Path | None = None


@pytest.fixture(params=["s3", "file"])
def backup_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Each test that takes it runs once against moto's S3 and once against file://."""
    if request.param == "file":
        root = tmp_path / "backups"
        return Target(kind="file", location=f"file://{root}", endpoint=None, root=root)
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    return Target(
        kind="s3", location=f"s3://{bucket}/edgewright", endpoint=server.endpoint, bucket=bucket
    )


def settings_for(target: Target, *, data_dir: Path, **overrides: object) -> Settings:
    """Settings that send backups to `target` (the environment is not read)."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": f"sqlite+aiosqlite:///{(data_dir / 'edgewright.db').as_posix()}",
        "backup_location": target.location,
        "backup_s3_endpoint_url": target.endpoint,
        "backup_s3_region": "us-east-1",
        **overrides,
    }
    return Settings.model_validate(values)
