"""The sandbox's own housekeeping: history compaction and the state file, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import kmock
import pytest

from simulator.kube_sandbox import (
    SandboxEmulator,
    _compact,
    build_emulator,
    load_state,
    save_state,
)
from tests.support.helpers import free_port
from tests.support.modes import mode

CONFIGMAPS = "/api/v1/namespaces/kubeedge/configmaps"


@pytest.fixture
async def sandbox() -> AsyncIterator[tuple[SandboxEmulator, httpx.AsyncClient]]:
    emulator = build_emulator()
    port = free_port()
    async with (
        emulator,
        kmock.Server(emulator, host="127.0.0.1", port=port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        yield emulator, http


async def create_configmap(http: httpx.AsyncClient, name: str) -> None:
    body = {"metadata": {"name": name, "namespace": "kubeedge"}, "data": {"n": "0"}}
    answer = await http.post(CONFIGMAPS, json=body)
    assert answer.status_code < 300, answer.text


async def test_compaction_trims_the_objects_written_since_the_last_pass(
    sandbox: tuple[SandboxEmulator, httpx.AsyncClient],
) -> None:
    emulator, http = sandbox
    await create_configmap(http, "busy")
    await create_configmap(http, "quiet")
    for n in range(1, 5):
        patch = await http.patch(
            f"{CONFIGMAPS}/busy",
            json={"data": {"n": str(n)}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patch.status_code < 300, patch.text
    busy = emulator._exact(kmock.resource("", "v1", "configmaps"), "kubeedge", "busy")
    assert len(busy.history) == 5
    assert len(emulator.written) == 2

    _compact(emulator)

    assert len(busy.history) == 2
    assert emulator.written == set()
    fetched = await http.get(f"{CONFIGMAPS}/busy")
    assert fetched.json()["data"] == {"n": "4"}  # the last state is what is served


async def test_state_file_round_trip_and_lookups_by_key(
    sandbox: tuple[SandboxEmulator, httpx.AsyncClient], tmp_path: Path
) -> None:
    emulator, http = sandbox
    for index in range(50):
        await create_configmap(http, f"cm-{index}")
    assert (await http.delete(f"{CONFIGMAPS}/cm-7")).status_code < 300
    assert (await http.get(f"{CONFIGMAPS}/cm-7")).status_code == 404
    assert (await http.get(f"{CONFIGMAPS}/cm-8")).json()["metadata"]["name"] == "cm-8"
    listing = (await http.get(CONFIGMAPS)).json()["items"]
    assert len(listing) == 49

    state = tmp_path / "state.json"
    save_state(emulator, state)
    reloaded = build_emulator()
    assert load_state(reloaded, state) == 49
    assert reloaded._exact(kmock.resource("", "v1", "configmaps"), "kubeedge", "cm-7") is None


@pytest.mark.usefixtures("usual_umask")
async def test_the_state_file_is_private(
    sandbox: tuple[SandboxEmulator, httpx.AsyncClient], tmp_path: Path
) -> None:
    emulator, http = sandbox
    await create_configmap(http, "cm-private")
    state = tmp_path / "data" / "sandbox-kube.json"
    state.parent.mkdir(mode=0o700)
    partial = state.with_name(state.name + ".partial")
    partial.write_text("left by an older version")
    partial.chmod(0o644)
    save_state(emulator, state)
    assert mode(state) == 0o600
