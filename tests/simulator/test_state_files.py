"""The simulator's state is private: 0600 files in a directory created 0700."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.device import DeviceSpec
from simulator.enroll import JoinedDevices
from tests.support.modes import mode

pytestmark = pytest.mark.usefixtures("usual_umask")


def test_the_joined_devices_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "simulator-state.json"
    JoinedDevices(path).add(DeviceSpec(device_id="sim-device-0001", node_name="sim-node-0001"))
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)
    assert "sim-device-0001" in JoinedDevices(path)
