"""`pip install ./sdk` on its own: the wheel builds offline with the project's setuptools
and carries the package, its generated parts, the CLI and nothing but its own needs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sdk_builds_a_wheel_with_only_its_dependencies(tmp_path: Path) -> None:
    # A copy: setuptools leaves build/ and *.egg-info next to the sources it builds.
    source = shutil.copytree(ROOT / "sdk", tmp_path / "sdk")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("kubeedge_cloudcore_sdk-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt"))
    for module in ("models.py", "_sync/clients.py", "_async/clients.py", "cli/app.py", "py.typed"):
        assert f"kubeedge_cloudcore/{module}" in names
    requires = sorted(metadata.get_all("Requires-Dist") or [])
    plain = sorted(re.split(r"[<>=!~; ]", req)[0] for req in requires if "extra ==" not in req)
    assert plain == ["httpx", "httpx-sse", "pydantic", "websockets"]
    assert b"edgewright = kubeedge_cloudcore.cli:main" in entry_points
