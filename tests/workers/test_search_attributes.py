"""Registering our search attributes in a namespace: against the dev server, twice."""

from __future__ import annotations

import uuid
from typing import cast

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from adapters.temporal_namespace import ensure_search_attributes, missing_and_conflicting
from store.settings import Settings
from tests.support.helpers import eventually
from workers import search_attributes
from workflows.contracts.common import SEARCH_ATTRIBUTES

NAMES = tuple(key.name for key in SEARCH_ATTRIBUTES)


async def _fresh_namespace(client: Client) -> str:
    """A namespace of its own, so the attributes the fixture registered are not there."""
    name = f"sa-{uuid.uuid4().hex[:12]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )

    # The server's namespace cache learns of it shortly after; until then calls fail.
    async def usable() -> bool:
        try:
            await search_attributes.registered_search_attributes(client, namespace=name)
        except RPCError:
            return False
        return True

    await eventually(usable)
    return name


def _settings(env: WorkflowEnvironment, namespace: str) -> Settings:
    address = env.client.service_client.config.target_host
    return Settings(temporal_address=address, temporal_namespace=namespace)


async def test_a_second_run_changes_nothing(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    namespace = await _fresh_namespace(client)

    first = await ensure_search_attributes(client, namespace=namespace, wanted=SEARCH_ATTRIBUTES)
    second = await ensure_search_attributes(client, namespace=namespace, wanted=SEARCH_ATTRIBUTES)

    assert sorted(first.added) == sorted(NAMES)
    assert first.present == ()
    assert second.added == ()
    assert sorted(second.present) == sorted(NAMES)
    registered = await search_attributes.registered_search_attributes(client, namespace=namespace)
    keyword = SearchAttributeIndexedValueType.KEYWORD.value
    assert {name: registered[name] for name in NAMES} == dict.fromkeys(NAMES, keyword)


async def test_the_command_checks_then_registers(dev_env: WorkflowEnvironment) -> None:
    namespace = await _fresh_namespace(dev_env.client)
    settings = _settings(dev_env, namespace)

    assert await search_attributes.run(settings, check=True) == 1
    assert await search_attributes.run(settings, check=False) == 0
    assert await search_attributes.run(settings, check=False) == 0
    assert await search_attributes.run(settings, check=True) == 0


async def test_the_command_refuses_an_attribute_of_another_type(
    dev_env: WorkflowEnvironment,
) -> None:
    namespace = await _fresh_namespace(dev_env.client)
    stage_as_int = cast(SearchAttributeKey[int], SearchAttributeKey.for_int("Stage"))
    await ensure_search_attributes(dev_env.client, namespace=namespace, wanted=[stage_as_int])

    assert await search_attributes.run(_settings(dev_env, namespace), check=False) == 2
    # Nothing was added beside the conflicting one: no half-registered namespace.
    registered = await search_attributes.registered_search_attributes(
        dev_env.client, namespace=namespace
    )
    assert "DeviceId" not in registered


def test_conflicts_name_both_types() -> None:
    stage = SearchAttributeKey.for_keyword("Stage")
    missing, conflicts = missing_and_conflicting(
        [stage], {"Stage": SearchAttributeIndexedValueType.INT.value}
    )
    assert missing == []
    assert conflicts == ["Stage is INT, edgewright needs KEYWORD"]


def test_tcld_line_names_every_attribute() -> None:
    line = search_attributes.tcld_command("fleet.acct")
    assert line.startswith("tcld namespace search-attributes add --namespace fleet.acct ")
    assert all(f"--sa '{name}=Keyword'" in line for name in NAMES)
