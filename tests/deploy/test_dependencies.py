"""Runtime and development dependencies apart, and the two lock files in step.

requirements.lock is what `make run` and the image install; requirements-dev.lock adds
the test and lint tools. The runtime code must import nothing that only the dev lock has.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.deploy.commands import OUR_PACKAGES, ROOT

PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEV_ONLY = ("moto", "mypy", "pytest", "ruff", "import-linter", "cfn-lint", "flask", "docker")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        match = PIN.fullmatch(line.strip())
        if match:
            pins[_normal(match["name"])] = match["version"]
    return pins


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = project["project"]["dependencies"]
    dev = project["dependency-groups"]["dev"]

    def names(requirements: list[str]) -> set[str]:
        return {_normal(str(REQUIREMENT_NAME.match(req).group())) for req in requirements}  # type: ignore[union-attr]

    return names(runtime), names(dev)


def test_the_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert runtime, "requirements.lock pins nothing"
    # Same versions: the tests exercise exactly what production runs.
    assert {name: dev.get(name) for name in runtime} == runtime
    assert [tool for tool in DEV_ONLY if tool in runtime] == []
    assert all(tool in dev for tool in DEV_ONLY)


def test_every_declared_dependency_is_locked() -> None:
    """Fails when pyproject.toml gained a dependency and `make lock` was not run."""
    runtime, dev = _declared()
    assert sorted(runtime - _pins("requirements.lock").keys()) == []
    assert sorted((runtime | dev) - _pins("requirements-dev.lock").keys()) == []


def test_runtime_code_imports_only_runtime_packages() -> None:
    locked = _pins("requirements.lock")
    owners = packages_distributions()
    outside: dict[str, set[str]] = {}
    for module, files in _third_party_imports().items():
        distributions = {_normal(name) for name in owners.get(module, [])}
        if not distributions & locked.keys():
            outside[module] = files
    assert outside == {}


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> the runtime files importing it (stdlib and our own left out)."""
    found: dict[str, set[str]] = {}
    for package in OUR_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for name in _imported(tree):
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OUR_PACKAGES:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _imported(node: ast.AST) -> list[str]:
    """Modules imported at run time: `if TYPE_CHECKING:` blocks (type stubs) do not count."""
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return [name for child in node.orelse for name in _imported(child)]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.level == 0 and node.module else []
    return [name for child in ast.iter_child_nodes(node) for name in _imported(child)]
