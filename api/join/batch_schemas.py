"""Read a batch-join request from JSON, YAML or CSV and validate it as a whole.

Nothing starts unless every entry is valid: the answer to a bad batch lists every bad
entry (`devices[3].node_name`, duplicates included) so an operator fixes the file once.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.core.errors import ApiError
from workflows.contracts.common import ConfigScalar, DeviceId, NodeName, ShortText
from workflows.contracts.join import BatchId

JSON_TYPES = {"application/json"}
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
CSV_TYPES = {"text/csv", "application/csv"}
# CSV columns beyond these become configuration entries (`config.runtime` or `runtime`).
_CSV_FIELDS = {"node_name", "device_id", "device_type", "location"}


class BatchDeviceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_name: NodeName
    device_id: DeviceId
    device_type: ShortText | None = None
    location: ShortText | None = None
    configuration: dict[str, ConfigScalar] = Field(default_factory=dict, max_length=64)


class BatchOptions(BaseModel):
    """Everything in a batch request except its devices."""

    model_config = ConfigDict(extra="forbid")

    batch_id: BatchId | None = None
    cloud_ip: str | None = None
    token_expiry_hours: float | None = Field(default=None, gt=0, le=24 * 30)
    max_concurrency: int | None = Field(default=None, ge=1, le=1000)


class ParsedBatch(BaseModel):
    options: BatchOptions
    devices: list[BatchDeviceEntry]


def parse_document(*, body: bytes, content_type: str) -> dict[str, Any]:
    """The request as `{"devices": [...], ...options}` whatever format it came in."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind in CSV_TYPES:
            return {"devices": _csv_devices(body.decode("utf-8-sig"))}
        loaded = yaml.safe_load(body) if kind in YAML_TYPES else json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError, csv.Error) as err:
        raise ApiError(400, f"The batch is not valid {kind or 'JSON'}: {err}") from err
    if isinstance(loaded, list):
        return {"devices": loaded}
    if not isinstance(loaded, dict):
        raise ApiError(400, "A batch is an object with a `devices` list, or a list of devices")
    return loaded


def _csv_devices(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"node_name", "device_id"} <= set(reader.fieldnames):
        raise ApiError(400, "CSV needs a header row with at least node_name and device_id")
    devices = []
    for row in reader:
        device: dict[str, Any] = {}
        configuration: dict[str, Any] = {}
        for key, value in row.items():
            if key is None or value is None or value == "":
                continue
            if key in _CSV_FIELDS:
                device[key] = value
            else:
                configuration[key.removeprefix("config.")] = value
        if configuration:
            device["configuration"] = configuration
        devices.append(device)
    return devices


def validate_batch(document: dict[str, Any], *, max_devices: int) -> ParsedBatch:
    errors: dict[str, str] = {}
    raw_devices = document.get("devices")
    options_doc = {k: v for k, v in document.items() if k != "devices"}
    try:
        options = BatchOptions.model_validate(options_doc)
    except ValidationError as err:
        errors |= _field_errors(err, prefix="")
        options = BatchOptions()
    if not isinstance(raw_devices, list) or not raw_devices:
        errors["devices"] = "a non-empty list of devices is required"
        raw_devices = []
    elif len(raw_devices) > max_devices:
        errors["devices"] = f"{len(raw_devices)} devices; at most {max_devices} per batch"
        raw_devices = []
    devices: list[BatchDeviceEntry] = []
    seen_devices: dict[str, int] = {}
    seen_nodes: dict[str, int] = {}
    for index, raw in enumerate(raw_devices):
        try:
            entry = BatchDeviceEntry.model_validate(raw)
        except ValidationError as err:
            errors |= _field_errors(err, prefix=f"devices[{index}]")
            continue
        for seen, key, field in (
            (seen_devices, entry.device_id, "device_id"),
            (seen_nodes, entry.node_name, "node_name"),
        ):
            if key in seen:
                errors[f"devices[{index}].{field}"] = f"duplicate of devices[{seen[key]}]"
            else:
                seen[key] = index
        devices.append(entry)
    if errors:
        raise ApiError(
            400, f"The batch has {len(errors)} invalid entries; nothing was started", details=errors
        )
    return ParsedBatch(options=options, devices=devices)


def _field_errors(err: ValidationError, *, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in err.errors():
        path = ".".join(str(part) for part in item["loc"])
        key = f"{prefix}.{path}" if prefix and path else prefix or path or "body"
        message = str(item["msg"]).removeprefix("Value error, ")
        found[key] = message
    return found
