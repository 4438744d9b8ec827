"""Where the CLI connects, with which credentials, and how it prints.

Address: --url, else EDGEWRIGHT_URL, else http://127.0.0.1:8000. Credentials:
EDGEWRIGHT_API_KEY, else EDGEWRIGHT_TOKEN, else the token `edgewright login` saved for
that address (in the user's config directory, mode 0600).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import typer

from .._sync.clients import CloudCoreClient

DEFAULT_URL = "http://127.0.0.1:8000"


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def credentials_file() -> Path:
    return Path(typer.get_app_dir("edgewright")) / "credentials.json"


def saved_tokens() -> dict[str, str]:
    try:
        data = json.loads(credentials_file().read_text())
    except (OSError, ValueError):
        return {}
    return {str(url): str(token) for url, token in data.items()} if isinstance(data, dict) else {}


def save_token(url: str, token: str) -> Path:
    """Keep the login token for `url`, readable by this user only."""
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tokens = {**saved_tokens(), url: token}
    # Created 0600 before anything is written: the token is never world-readable.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(tokens, file)
    path.chmod(0o600)
    return path


@dataclass
class Context:
    url: str
    output: Output

    def client(self, *, authenticated: bool = True) -> CloudCoreClient:
        if not authenticated:
            return CloudCoreClient(self.url)
        if key := os.environ.get("EDGEWRIGHT_API_KEY"):
            return CloudCoreClient(self.url, api_key=key)
        token = os.environ.get("EDGEWRIGHT_TOKEN") or saved_tokens().get(self.url)
        if token:
            return CloudCoreClient(self.url, token=token)
        raise typer.BadParameter(
            "no credentials: set EDGEWRIGHT_API_KEY or EDGEWRIGHT_TOKEN, or run `edgewright login`"
        )


def context_of(ctx: typer.Context) -> Context:
    found = ctx.find_object(Context)
    assert found is not None, "the root callback sets the context"
    return found
