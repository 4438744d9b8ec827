"""Workflow inputs shared by the DeviceJoin workflow tests."""

from __future__ import annotations

from workflows.contracts.join import DeviceJoinInput

DAY = 24 * 3600


def join_input(ttl: int = DAY, fingerprint: str = "fp-1") -> DeviceJoinInput:
    return DeviceJoinInput(
        device_id="camera-001",
        node_name="edge-node-001",
        cloudcore_host="10.0.0.1",
        cloudcore_port=10000,
        device_type="camera",
        token_ttl_seconds=ttl,
        fingerprint=fingerprint,
    )
