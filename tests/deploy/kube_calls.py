"""What the worker's code asks of Kubernetes, derived from the code: (group, resource, verb).

Two ways in: the official client's typed methods (`read_namespaced_secret`, also when the
name is built with an f-string from a suffix the module spells out), whose URL and HTTP
method the client's own source gives; and WorkloadObjects' raw calls, read at their call
sites (`self._objects.create(NODE_GROUP, ...)`: that kind; a variable kind: every
namespaced workload kind). Discovery (`/api`, `/apis/...`, `/version`) is left out:
every authenticated client may read it.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from kubernetes import client

from adapters.kubernetes import workload_objects
from adapters.kubernetes.manifests import DEVICE_API
from adapters.kubernetes.objects import KINDS
from tests.deploy.commands import ROOT

Need = tuple[str, str, str]  # (API group, resource, verb)
# Where the worker's Kubernetes code lives (the simulator only ever talks to the sandbox).
SCANNED = ("adapters", "activities", "workers")
_PATH = re.compile(r"'(/[^']*)',\s*'(GET|POST|PUT|PATCH|DELETE)'")
_RAW_VERBS = {"get": "get", "list": "list", "list_workload": "list", "create": "create"}
_RAW_VERBS |= {"patch": "patch", "delete": "delete"}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(), filename=str(path))


def _api_classes(tree: ast.Module) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.endswith("Api")
        if isinstance(node.value, ast.Name) and node.value.id == "client"
    }


def _client_holders(tree: ast.Module) -> set[str]:
    """Last names of what holds a typed client: `self._core = client.CoreV1Api(...)`."""
    holders = set()
    for node in ast.walk(tree):
        call = node.value if isinstance(node, ast.Assign) else None
        if isinstance(call, ast.Call) and ast.unparse(call.func).startswith("client."):
            holders |= {_last(target) for target in node.targets}
    return holders


def _last(node: ast.expr) -> str:
    return ast.unparse(node).split(".")[-1]


def _candidate_names(tree: ast.Module) -> set[str]:
    """Attribute names, and f-strings filled with each string constant of the module."""
    constants = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else None for v in node.values]
            if None in parts:
                names |= {"".join(p if p is not None else c for p in parts) for c in constants}
    return names


@cache
def typed_calls() -> frozenset[tuple[str, str]]:
    """(API class, method) of every typed client call in the scanned code."""
    classes: set[str] = set()
    names: set[str] = set()
    ours: set[str] = set()
    on_clients: set[str] = set()
    trees = [tree for _, tree in _modules()]
    receivers = {name for tree in trees for name in _client_holders(tree)}
    for tree in trees:
        classes |= _api_classes(tree)
        names |= _candidate_names(tree)
        ours |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        on_clients |= {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and _last(node.value) in receivers
        }
    # Our own functions may share a client method's name (the activity read_node_status,
    # delete_node): such a name counts only where it is called on a client object.
    names -= ours - on_clients
    found = set()
    for class_name in classes:
        api = getattr(client, class_name)
        for name in names:
            if not name.startswith("_") and hasattr(api, f"{name}_with_http_info"):
                found.add((class_name, name))
    return frozenset(found)


def needs_of_typed(class_name: str, method: str) -> set[Need]:
    source = inspect.getsource(getattr(getattr(client, class_name), f"{method}_with_http_info"))
    match = _PATH.search(source)
    assert match, f"no URL in {class_name}.{method}"
    path, http = match.groups()
    if path.startswith("/apis/{group}"):  # custom objects: only KubeEdge's Devices
        groups_plurals = {(DEVICE_API[0], kind.suffix) for kind in KINDS.values() if kind.custom}
        return {(g, p, _verb(http, named=path.endswith("{name}"))) for g, p in groups_plurals}
    parts = [p for p in path.strip("/").split("/") if p]
    if parts[0] == "version" or len(parts) <= 2 + (parts[0] == "apis"):
        return set()  # discovery
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest[0] == "namespaces":
        rest = rest[2:]
    named = len(rest) >= 2
    resource = rest[0] if len(rest) < 3 else f"{rest[0]}/{rest[2]}"
    return {(group, resource, _verb(http, named=named))}


def _verb(http: str, *, named: bool) -> str:
    if http == "GET":
        return "get" if named else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[http]


@cache
def raw_needs() -> frozenset[Need]:
    kinds = {
        name: value
        for name, value in vars(workload_objects).items()
        if isinstance(value, workload_objects.Kind)
    }
    namespaced = [kind for kind in kinds.values() if kind.namespaced]
    needs: set[Need] = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = ast.unparse(node.func.value)
            verb = _RAW_VERBS.get(node.func.attr)
            if verb is None or not receiver.endswith("_objects") or not node.args:
                continue
            first = node.args[0]
            named = kinds.get(first.id) if isinstance(first, ast.Name) else None
            targets = [named] if named is not None else namespaced
            needs |= {(kind.group, kind.plural, verb) for kind in targets}
    return frozenset(needs)


@cache
def code_needs() -> frozenset[Need]:
    needs = set(raw_needs())
    for class_name, method in typed_calls():
        needs |= needs_of_typed(class_name, method)
    return frozenset(needs)
