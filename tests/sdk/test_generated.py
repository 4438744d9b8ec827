"""What `make sdk-models` writes is up to date: the OpenAPI the app serves, and the sync
clients unasync writes from the async ones. A route or schema change without
`make sdk-models` fails here."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from api.main import create_app

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sdk" / "src" / "kubeedge_cloudcore"


def test_the_committed_openapi_is_the_served_one() -> None:
    committed = json.loads((ROOT / "sdk" / "openapi.json").read_text())
    assert committed == create_app().openapi(), "run `make sdk-models`"


def test_the_sync_clients_are_written_from_the_async_ones(tmp_path: Path) -> None:
    tool = runpy.run_path(str(ROOT / "sdk" / "tools" / "unasync_clients.py"))
    tool["main"](tmp_path / "_sync")
    written = {path.name: path.read_text() for path in (tmp_path / "_sync").glob("*.py")}
    committed = {path.name: path.read_text() for path in (PACKAGE / "_sync").glob("*.py")}
    assert written == committed, "run `make sdk-models`"
