"""Our search attributes in a Temporal namespace, added once and never changed.

The dev server gets them on its command line (workers/processes.py); a real cluster needs
them registered through its operator service before the first run sets them, or every
start fails. Registering is idempotent: present attributes of the right type are left
alone, missing ones are added in one call, and one of the wrong type is an error (Temporal
cannot change a type; the operator has to decide).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey


class SearchAttributeConflict(RuntimeError):
    """A name we use is registered with another type."""


@dataclass(frozen=True, kw_only=True)
class Registration:
    present: tuple[str, ...]  # already there with the right type
    added: tuple[str, ...]  # added by this call (empty on a second run)


def missing_and_conflicting(
    wanted: Sequence[SearchAttributeKey[Any]], registered: Mapping[str, int]
) -> tuple[list[SearchAttributeKey[Any]], list[str]]:
    """Which wanted keys are absent, and a sentence for each of the wrong type."""
    missing: list[SearchAttributeKey[Any]] = []
    conflicts: list[str] = []
    for key in wanted:
        have = registered.get(key.name)
        if have is None:
            missing.append(key)
        elif have != key.indexed_value_type.value:
            found = SearchAttributeIndexedValueType(have).name
            conflicts.append(
                f"{key.name} is {found}, edgewright needs {key.indexed_value_type.name}"
            )
    return missing, conflicts


async def registered_search_attributes(client: Client, *, namespace: str) -> dict[str, int]:
    """Name -> indexed value type of every custom and system attribute of the namespace."""
    answer = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return {**dict(answer.system_attributes), **dict(answer.custom_attributes)}


async def ensure_search_attributes(
    client: Client, *, namespace: str, wanted: Sequence[SearchAttributeKey[Any]]
) -> Registration:
    """Add the wanted attributes that the namespace lacks; raises SearchAttributeConflict."""
    registered = await registered_search_attributes(client, namespace=namespace)
    missing, conflicts = missing_and_conflicting(wanted, registered)
    if conflicts:
        raise SearchAttributeConflict("; ".join(conflicts))
    present = tuple(key.name for key in wanted if key not in missing)
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
                    for key in missing
                },
            )
        )
    return Registration(present=present, added=tuple(key.name for key in missing))
