"""Workflows call activities through typed stubs in workflows/contracts; the worker runs
the implementations registered under the same names. Both sides must agree on the
argument and the result, and no workflow may call an activity any other way."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from kubernetes import client
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity

import workflows
import workflows.contracts
from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import KubeTarget
from adapters.mqtt.publisher import MqttPublisher
from store.settings import Settings
from workers.worker import activity_callables

# What a workflow may call an activity with: the SDK's functions that start one.
STARTS = ("execute_activity", "execute_local_activity", "start_activity", "start_local_activity")


def _name(fn: Callable[..., Any]) -> str | None:
    # The name the SDK registers or schedules a callable under (it has no public accessor).
    defn = activity._Definition.from_callable(fn)
    return None if defn is None or defn.name is None else str(defn.name)


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        yield importlib.import_module(info.name)


def _stubs() -> dict[str, Callable[..., Any]]:
    stubs: dict[str, Callable[..., Any]] = {}
    for module in _modules(workflows.contracts):
        for value in vars(module).values():
            name = _name(value) if callable(value) else None
            if name is None or value.__module__ != module.__name__:
                continue  # not a stub, or imported from another contracts module
            assert name not in stubs, f"two stubs for {name}"
            stubs[name] = value
    return stubs


def _workflow_modules() -> list[ModuleType]:
    return [m for m in _modules(workflows) if not m.__name__.startswith("workflows.contracts")]


def _hints(fn: Callable[..., Any]) -> tuple[list[object], object]:
    """Parameter and return annotations (self excluded: implementations are bound)."""
    hints = typing.get_type_hints(fn)
    params = [hints.get(p, inspect.Parameter.empty) for p in inspect.signature(fn).parameters]
    return params, hints.get("return", inspect.Parameter.empty)


@pytest.fixture
def registered(tmp_path: Path) -> Iterator[dict[str, Callable[..., Any]]]:
    """What workers/worker.py registers, built with clients that never connect."""
    api_client = client.ApiClient()
    kube = KubeActivities(
        target=KubeTarget(mode="sandbox", description="test", api_client=api_client)
    )
    callables = activity_callables(
        settings=Settings(data_dir=tmp_path),
        sessions=async_sessionmaker(),
        kube=kube,
        publisher=MqttPublisher(host="127.0.0.1", port=1883, client_id="stub-test"),
    )
    by_name: dict[str, Callable[..., Any]] = {}
    for fn in callables:
        name = _name(fn)
        assert name is not None, f"{fn} is not an activity"
        assert name not in by_name, f"the worker registers {name} twice"
        by_name[name] = fn
    yield by_name
    api_client.close()


def test_every_stub_matches_its_implementation(
    registered: dict[str, Callable[..., Any]],
) -> None:
    stubs = _stubs()
    assert stubs, "no stubs found in workflows/contracts"
    for name, stub in stubs.items():
        assert name in registered, f"the worker registers nothing under {name}"
        stub_params, stub_result = _hints(stub)
        impl_params, impl_result = _hints(registered[name])
        assert len(stub_params) <= 1, f"stub {name} takes more than one argument"
        assert impl_params == stub_params, f"{name}: argument {impl_params} != stub {stub_params}"
        assert impl_result == stub_result, f"{name}: result {impl_result} != stub {stub_result}"


def test_workflows_call_activities_only_through_stubs() -> None:
    stubs = _stubs()
    called: set[str] = set()
    for module in _workflow_modules():
        source = inspect.getsource(module)
        tree = ast.parse(source)
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = {a.arg for a in [*func.args.posonlyargs, *func.args.args]}
            for call in ast.walk(func):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr.startswith(STARTS)
                ):
                    continue
                where = f"{module.__name__}:{call.lineno}"
                first = call.args[0] if call.args else None
                # A stub, or the parameter of a typed wrapper whose callers pass stubs.
                assert isinstance(first, ast.Name), f"{where}: call an activity by its stub"
                if first.id not in params:
                    target = getattr(module, first.id, None)
                    assert callable(target), f"{where}: {first.id} is not a stub"
                    assert stubs.get(_name(target) or "") is target, f"{where}: not a stub"
        # Every activity a workflow names, passed to the SDK or to a wrapper.
        for node in ast.walk(tree):
            value = getattr(module, node.id, None) if isinstance(node, ast.Name) else None
            name = _name(value) if callable(value) else None
            if name is not None:
                assert stubs.get(name) is value, f"{module.__name__}: {name} is not the stub"
                called.add(name)
    assert called, "no workflow calls an activity?"
    assert sorted(set(stubs) - called) == [], "stubs no workflow calls"
