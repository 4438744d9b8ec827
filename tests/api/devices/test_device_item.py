"""The reference rendering of the device list (the specification the database's rendering is
held against) is exactly what DeviceItem says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic_core import to_json

from api.devices.schemas import DeviceItem
from tests.api.devices.reference_items import DeviceListRow, reference_item

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def _row(**changes: object) -> DeviceListRow:
    row = {
        "device_id": "cam-1",
        "node_name": "edge-1",
        "node_id": "0b4c5a2e-3f57-4a84-9a55-2f0d7d1f6f0e",
        "status": "joined",
        "device_type": "camera",
        "location": "Site 1",
        "created_at": NOW - timedelta(days=3),
        "node_ready": True,
        "node_roles": ["agent", "edge"],
        "node_version": "v1.29.5-kubeedge-v1.18.0",
        "node_addresses": [{"type": "InternalIP", "address": "192.168.1.100"}],
        "node_pods": 2,
        "node_created_at": NOW - timedelta(days=2),
        "node_synced_at": NOW - timedelta(seconds=7, microseconds=250),
    }
    return DeviceListRow(**{**row, **changes})  # type: ignore[arg-type]


def test_a_rendered_item_is_a_device_item_field_for_field() -> None:
    for row in (
        _row(),
        _row(node_ready=None, node_roles=None, node_addresses=None, node_pods=None),
        _row(node_created_at=None, node_synced_at=None, location=None, device_type=None),
    ):
        item = reference_item(row, now=NOW)
        model = DeviceItem.model_validate(item)
        assert list(item) == list(DeviceItem.model_fields)
        assert json.loads(to_json(item)) == json.loads(model.model_dump_json())


def test_a_rendered_item_keeps_only_the_address_fields() -> None:
    extra = [{"type": "Hostname", "address": "edge-1", "note": "not in the contract"}]
    item = reference_item(_row(node_addresses=extra), now=NOW)
    assert item["addresses"] == [{"type": "Hostname", "address": "edge-1"}]
    assert (item["status"], item["age"], item["pods_count"]) == ("Ready", "2d", 2)
