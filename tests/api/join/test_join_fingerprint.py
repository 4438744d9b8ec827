"""A device's join has one fingerprint, joined alone or in a batch.

A batch stores each device's fingerprint for its join; a later POST /device/join of the
same device with the same values must carry the same one, or it answers 409 instead of
finding the run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from api.join.batch_schemas import validate_batch
from api.join.batch_service import batch_rows
from api.join.schemas import JoinRequest
from api.join.service import join_input
from store.settings import Settings
from tests.api.helpers import make_settings

DEVICE: dict[str, Any] = {
    "node_name": "edge-7",
    "device_id": "cam-7",
    "device_type": "camera",
    "location": "dock 3",
    "configuration": {"fps": 30, "mode": "night", "ratio": 1.5, "hdr": True},
}
OPTIONS: dict[str, Any] = {"cloud_ip": "192.0.2.10", "token_expiry_hours": 12}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, cloudcore_address="192.0.2.99")


def single(settings: Settings, device: dict[str, Any], options: dict[str, Any]) -> str:
    body = JoinRequest.model_validate({**device, **options})
    return join_input(body, settings, default_hours=24).fingerprint


def batched(device: dict[str, Any], options: dict[str, Any]) -> str:
    others = {"node_name": "edge-8", "device_id": "cam-8"}
    parsed = validate_batch({"devices": [others, device], **options}, max_devices=10)
    (row,) = [row for row in batch_rows(parsed) if row["device_id"] == device["device_id"]]
    fingerprint: str = row["fingerprint"]
    return fingerprint


@pytest.mark.parametrize("options", [OPTIONS, {}], ids=["options", "defaults"])
def test_single_and_batched_join_have_the_same_fingerprint(
    settings: Settings, options: dict[str, Any]
) -> None:
    alone = single(settings, DEVICE, options)
    assert alone == batched(DEVICE, options)
    # The hash of the request as sent, as before: runs started earlier still match.
    body = {"cloud_ip": None, "token_expiry_hours": None, **DEVICE, **options}
    if "token_expiry_hours" in options:
        body["token_expiry_hours"] = float(options["token_expiry_hours"])
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert alone == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        {"node_name": "edge-9"},
        {"device_type": "sensor"},
        {"location": None},
        {"configuration": {**DEVICE["configuration"], "fps": 25}},
        {"configuration": {}},
        {"cloud_ip": "192.0.2.11"},
        {"token_expiry_hours": 6},
        {"token_expiry_hours": None},
    ],
)
def test_a_changed_field_changes_the_fingerprint(
    settings: Settings, change: dict[str, Any]
) -> None:
    device = {**DEVICE, **{k: v for k, v in change.items() if k in DEVICE}}
    options = {**OPTIONS, **{k: v for k, v in change.items() if k in OPTIONS}}
    original = single(settings, DEVICE, OPTIONS)
    assert single(settings, device, options) != original
    assert batched(device, options) != original
