"""The one Temporal connect: settings in, a pydantic-converting client out, retried."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from adapters import temporal
from adapters.temporal import Backoff, connect_temporal, retry_connect, tls_config
from store.settings import Settings

FAST = Backoff(initial=0.01, maximum=0.02)


async def test_connect_uses_the_settings_and_the_pydantic_converter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}
    connected = cast(Client, object())

    async def fake_connect(target: str, **kwargs: Any) -> Client:
        seen.update(kwargs, target=target)
        return connected

    monkeypatch.setattr(temporal.Client, "connect", fake_connect)
    settings = Settings(temporal_address="temporal.example:7233", temporal_namespace="fleet")
    assert await connect_temporal(settings) is connected
    assert seen == {
        "target": "temporal.example:7233",
        "namespace": "fleet",
        "data_converter": pydantic_data_converter,
        "tls": False,
        "api_key": None,
        "runtime": None,  # the SDK's default; the worker passes its own for its metrics
    }


async def test_an_api_key_connects_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def fake_connect(target: str, **kwargs: Any) -> Client:
        seen.update(kwargs)
        return cast(Client, object())

    monkeypatch.setattr(temporal.Client, "connect", fake_connect)
    settings = Settings(
        temporal_address="fleet.acct.tmprl.cloud:7233", temporal_api_key="key-of-the-fleet"
    )
    await connect_temporal(settings)
    assert seen["api_key"] == "key-of-the-fleet"
    assert isinstance(seen["tls"], TLSConfig)
    assert seen["tls"].client_cert is None


def test_mtls_reads_the_certificate_files(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in files.items():
        path.write_bytes(f"-----{name}-----".encode())
    settings = Settings(
        temporal_tls_ca_file=files["ca"],
        temporal_tls_cert_file=files["cert"],
        temporal_tls_key_file=files["key"],
        temporal_tls_server_name="temporal.internal",
    )
    tls = tls_config(settings)
    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert, tls.client_private_key) == (
        b"-----ca-----",
        b"-----cert-----",
        b"-----key-----",
    )
    assert tls.domain == "temporal.internal"


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(temporal_tls_cert_file=tmp_path / "cert.pem")


async def test_failed_attempts_are_retried_and_reported() -> None:
    failures: list[int] = []
    connected = cast(Client, object())

    async def flaky() -> Client:
        if len(failures) < 2:
            raise RuntimeError("connection refused")
        return connected

    client = await retry_connect(
        flaky,
        target="test",
        on_failure=lambda attempt, _error: failures.append(attempt),
        backoff=FAST,
    )
    assert client is connected
    assert failures == [1, 2]


async def test_gives_up_with_the_last_error_after_its_patience() -> None:
    async def refused() -> Client:
        raise RuntimeError("connection refused")

    with pytest.raises(RuntimeError, match="connection refused"):
        await retry_connect(refused, target="test", give_up_after=0.05, backoff=FAST)


async def test_cancelling_while_an_attempt_fails_stops_the_retries() -> None:
    # The API cancels its connector at shutdown; an attempt failing in the same loop turn
    # must not swallow that (asyncio.wait_for does on Python 3.11), or shutdown hangs.
    failing: asyncio.Future[Client] = asyncio.get_running_loop().create_future()

    async def connect() -> Client:
        return await failing

    task = asyncio.create_task(
        retry_connect(connect, target="test", give_up_after=None, backoff=FAST)
    )
    await asyncio.sleep(0.01)  # the first attempt is waiting
    failing.set_exception(RuntimeError("connection refused"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
