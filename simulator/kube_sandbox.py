"""The Kubernetes sandbox: kmock's API emulator, pre-loaded like a cluster running CloudCore.

Run it as `python -m simulator.kube_sandbox --host 127.0.0.1 --port 8001 --state FILE`. It is
not a Kubernetes: no validation, no RBAC, and no controllers but one: CloudCore's
Deployment rolls out (simulator/kube_sandbox_rollouts.py). Objects are saved to the state file
every few seconds when they change and on SIGTERM/SIGINT, and loaded at start, so the CA and
the objects of joined devices survive a restart. The emulator's gaps we work around are
marked "Emulator work-around" below.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock

from simulator.kube_sandbox_cloudcore import (
    NAMESPACES,
    refresh_token,
    secret_data,
    seed_cloudcore,
)
from simulator.kube_sandbox_rollouts import INTERVAL_SECONDS as ROLLOUT_INTERVAL
from simulator.kube_sandbox_rollouts import Key, existing, is_rolled_out, reconcile
from simulator.kube_sandbox_workloads import (
    crd_objects,
    is_crd,
    register_crd,
    track_generation,
)
from store.files import open_private, private_dir

logger = logging.getLogger("simulator.kube_sandbox")  # also when run as __main__

SAVE_INTERVAL_SECONDS = 2.0

# (api version path, plural, kind, namespaced): everything edgewright reads or writes.
RESOURCES = [
    ("v1", "configmaps", "ConfigMap", True),
    ("v1", "secrets", "Secret", True),
    ("v1", "nodes", "Node", False),
    ("v1", "namespaces", "Namespace", False),
    ("v1", "pods", "Pod", True),
    ("v1", "services", "Service", True),
    ("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    ("devices.kubeedge.io/v1beta1", "devices", "Device", True),
    ("apps/v1", "deployments", "Deployment", True),
    ("apps/v1", "statefulsets", "StatefulSet", True),
    ("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", False),
]
_VERBS = {"get", "list", "watch", "create", "patch", "delete"}
_WRITES = {kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE}
_NAMESPACE_PATH = re.compile(r"/api/v1/namespaces(?:/(?P<name>[^/]+))?")


@attrs.define(kw_only=True)
class SandboxEmulator(kmock.KubernetesEmulator):
    """The emulator, plus the work-arounds a long-running sandbox needs."""

    writes: int = attrs.field(default=0, init=False)  # the state file is saved when this moves
    # Objects written since the last compaction: only they can have grown a history.
    written: set[tuple[Any, str | None, str | None]] = attrs.field(factory=set, init=False)
    # The Deployments the simulated controller rolls out (CloudCore's).
    rollouts: set[Key] = attrs.field(factory=set, init=False)

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # Emulator work-around: its URL parser fails (500) on /api/v1/namespaces[/name], so
        # namespace reads, creates and merge patches are answered here, before it parses
        # anything (the patch: steering the simulated controller, see kube_sandbox_rollouts).
        match = _NAMESPACE_PATH.fullmatch(raw.path)
        if raw.method == "GET" and match and "watch" not in raw.query:
            return self._namespaces(match["name"])
        if match and (raw.method, match["name"] is None) in (("POST", True), ("PATCH", False)):
            return await self._write_namespace(match["name"], await raw.json())
        # Emulator work-around: the official client sends `watch=True`; the emulator only
        # takes `watch=true` for a watch and would answer a plain list instead.
        if raw.query.get("watch", "").lower() == "true":
            raw = raw.clone(rel_url=raw.rel_url.update_query(watch="true"))
        return await super().__call__(raw)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.action in _WRITES:
            self.writes += 1
            meta = request.data.get("metadata", {}) if isinstance(request.data, dict) else {}
            namespace = request.namespace or meta.get("namespace")
            self.written.add((request.resource, namespace, request.name or meta.get("name")))
            if (rolled_out := is_rolled_out(request)) is not None:
                self.rollouts.add(rolled_out)
        # Emulator work-arounds for workloads: see simulator/kube_sandbox_workloads.py.
        track_generation(self, request)
        crd = self._crd_before_delete(request)
        try:
            response = await super()._handle(request)
            if is_crd(request) and request.action == kmock.action.CREATE and response.status < 300:
                register_crd(self, request.data, present=True)
            if crd is not None and response.status < 300:
                register_crd(self, crd, present=False)
            return response
        finally:
            # Emulator work-around: it keeps every request it served, for test assertions, and
            # matches each new one by scanning them all: quadratic. Keep only those in flight.
            for index, pending in enumerate(self._requests):
                if pending is request:
                    del self._requests[index]
                    break

    # Emulator work-around: it finds the object of a get, create, update or delete by
    # comparing the request with every object it holds, so each request costs more as the
    # fleet grows (41% of the sandbox's time at 1,000 joined devices). The key is known:
    # look it up. Same answers; no await in between, so no lock is needed.
    async def _serve_fetch(self, request: kmock.Request) -> Any:
        obj = self._exact(request.resource, request.namespace, request.name)
        if obj is None or obj.deleted:
            raise kmock.KubernetesObjectNotFoundError()
        return obj.raw

    async def _serve_create(self, request: kmock.Request) -> Any:
        meta = request.data.get("metadata", {})
        namespace = request.namespace or meta.get("namespace")
        obj = self._exact(request.resource, namespace, request.name or meta.get("name"))
        assert obj is not None  # _handle() created it
        return obj.raw

    async def _serve_update(self, request: kmock.Request) -> Any:
        obj = self._exact(request.resource, request.namespace, request.name)
        assert obj is not None  # _handle() answered 404 otherwise
        return obj.last.raw  # the last state, also when the request just deleted it

    async def _serve_delete(self, request: kmock.Request) -> Any:
        return await self._serve_update(request)

    async def _serve_list(self, request: kmock.Request) -> Any:
        # Emulator work-around, as above: it compares resources field by field in Python.
        resource = request.resource
        if resource is None or f"{resource.group}/{resource.version}/{resource.plural}" not in (
            self._served
        ):
            return await super()._serve_list(request)
        wanted = (resource.group, resource.version, resource.plural)
        items = [
            obj.raw
            for (kind, namespace, name), obj in self.objects.items()
            if (kind.group, kind.version, kind.plural) == wanted
            and (request.namespace is None or namespace == request.namespace)
            and (request.name is None or name == request.name)
            and not obj.deleted
        ]
        return {"metadata": {"resourceVersion": "..."}, "items": items}

    @property
    def _served(self) -> set[str]:
        return {f"{r.group}/{r.version}/{r.plural}" for r in self.resources}

    def _exact(self, resource: Any, namespace: str | None, name: str | None) -> Any:
        if name is None:
            return None
        key = (resource, namespace, name)
        # ObjectsArray has no .get()
        return self.objects[key] if key in self.objects else None  # noqa: SIM401

    def _crd_before_delete(self, request: kmock.Request) -> dict[str, Any] | None:
        if not (is_crd(request) and request.action == kmock.action.DELETE and request.name):
            return None
        if request.resource is None:
            return None
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        return dict(self.objects[key].last)

    async def _write_namespace(
        self, name: str | None, body: dict[str, Any]
    ) -> aiohttp.web.StreamResponse:
        """Create a Namespace (`name` None: from the body) or merge-patch one."""
        creating = name is None
        name = name or (body.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            return _status(422, "Invalid", "metadata.name: Required value")
        key = (NAMESPACES, None, name)
        async with self._lock:  # as the emulator's own writes
            present = key in self.objects and not self.objects[key].deleted
            if creating and present:
                return _status(409, "AlreadyExists", f'namespaces "{name}" already exists')
            if not creating and not present:
                return _status(404, "NotFound", f'namespaces "{name}" not found')
            if creating:
                body = {**body, "apiVersion": "v1", "kind": "Namespace"}
                body["metadata"] = {**body.get("metadata", {}), "name": name}
                self.objects[key] = body
            else:
                self.objects[key].patch(body)  # None removes a key, as a merge patch does
            self.writes += 1
            self.written.add(key)
            answer = self.objects[key].raw
        return aiohttp.web.json_response(answer, status=201 if creating else 200)

    def _namespaces(self, name: str | None) -> aiohttp.web.StreamResponse:
        found = {
            key[2]: obj.raw
            for key, obj in self.objects.items()
            if key[0] == NAMESPACES and not obj.deleted
        }
        if name is None:
            items = list(found.values())
            listing = {"apiVersion": "v1", "kind": "NamespaceList", "metadata": {}, "items": items}
            return aiohttp.web.json_response(listing)
        if name in found:
            return aiohttp.web.json_response(found[name])
        return _status(404, "NotFound", f'namespaces "{name}" not found')


def _status(code: int, reason: str, message: str) -> aiohttp.web.StreamResponse:
    status = {"kind": "Status", "code": code, "reason": reason, "status": "Failure"}
    status["message"] = message
    return aiohttp.web.json_response(status, status=code)


def build_emulator() -> SandboxEmulator:
    emulator = SandboxEmulator()
    for api_version, plural, kind, namespaced in RESOURCES:
        emulator.resources[f"{api_version}/{plural}"] = kmock.ResourceInfo(
            kind=kind, singular=kind.lower(), namespaced=namespaced, verbs=_VERBS
        )
    # Emulator work-around: the official client asks for "/api/" with a trailing slash, which
    # the emulator only serves without one. "/version/" stays unanswered, as documented.
    emulator["get /api/"] << _api_versions
    return emulator


def _api_versions(request: kmock.Request) -> dict[str, Any]:
    address = f"{request.url.host}:{request.url.port}"
    cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": cidrs}


# --- state file ------------------------------------------------------------------------


def load_state(emulator: kmock.KubernetesEmulator, path: Path) -> int:
    if not path.exists():
        return 0
    state = json.loads(path.read_text(encoding="utf-8"))
    for entry in state["objects"]:
        resource = kmock.resource(entry["group"], entry["version"], entry["plural"])
        emulator.objects[resource, entry["namespace"], entry["name"]] = entry["body"]
    return len(state["objects"])


def save_state(emulator: kmock.KubernetesEmulator, path: Path) -> None:
    objects: list[dict[str, Any]] = [
        {
            "group": resource.group,
            "version": resource.version,
            "plural": resource.plural,
            "namespace": namespace,
            "name": name,
            "body": obj.raw,
        }
        for (resource, namespace, name), obj in emulator.objects.items()
        if not obj.deleted
    ]
    private_dir(path.parent)
    partial = path.with_name(path.name + ".partial")
    # 0600: the file holds the CA private key. Write aside, then rename: never half a file.
    with os.fdopen(open_private(partial, os.O_WRONLY | os.O_TRUNC), "w") as file:
        # One line, through json's C encoder: with indent it takes the pure-Python path,
        # which cost a tenth of the sandbox's time at 1,000 joined devices.
        file.write(json.dumps({"version": 1, "objects": objects}, sort_keys=True))
    partial.replace(path)


def _compact(emulator: SandboxEmulator) -> None:
    """Emulator work-around: it keeps every request and object version; a sandbox runs for days.

    Only the objects written since the last pass are looked at: at 10,000 joined devices a
    pass over every object every few seconds was a fair part of the sandbox's time.
    """
    for reaction in emulator._payloads:
        reaction._requests.clear()
    written, emulator.written = emulator.written, set()
    for key in written:
        obj = emulator._exact(*key)
        if obj is not None and len(obj.history) > 2:
            del obj.history[:-2]  # keep the last state and a deletion marker after it


async def roll_out(emulator: SandboxEmulator) -> None:
    """One pass of the simulated Deployment controller; its writes are saved like others."""
    for key in await reconcile(emulator, emulator.rollouts):
        emulator.writes += 1
        emulator.written.add(key)


async def _controller(emulator: SandboxEmulator) -> None:
    while True:
        await asyncio.sleep(ROLLOUT_INTERVAL)
        try:
            await roll_out(emulator)
        except Exception:  # a bad object must not stop every later rollout
            logger.exception("Sandbox Deployment controller failed")


async def _housekeeping(emulator: SandboxEmulator, state_path: Path) -> None:
    saved = emulator.writes
    next_save = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(SAVE_INTERVAL_SECONDS)
        try:
            _compact(emulator)
            changed = refresh_token(emulator, ca=secret_data(emulator, "casecret"))
            if (changed or emulator.writes != saved) and loop.time() >= next_save:
                saved = emulator.writes
                started = loop.time()
                save_state(emulator, state_path)
                # Saving writes every object: with tens of thousands, keep it to about a
                # tenth of the sandbox's time. SIGTERM saves whatever is left.
                next_save = loop.time() + 9 * (loop.time() - started)
        except Exception:  # keep saving later rather than die silently in a background task
            logger.exception("Sandbox housekeeping failed")


@contextlib.asynccontextmanager
async def sandbox_server(*, host: str, port: int, state_path: Path) -> AsyncIterator[str]:
    """Serve the sandbox on host:port; yields its URL; saves the state on the way out."""
    emulator = build_emulator()
    loaded = load_state(emulator, state_path)
    for crd in crd_objects(emulator):
        register_crd(emulator, crd, present=True)
    seed_cloudcore(emulator)
    emulator.rollouts |= existing(emulator)
    async with emulator, kmock.Server(emulator, host=host, port=port) as server:
        # Both steps of a rollout: on a cluster with KubeEdge, CloudCore rolled out long ago.
        await roll_out(emulator)
        await roll_out(emulator)
        save_state(emulator, state_path)
        url = f"http://{host}:{server.port}"
        logger.info(
            "Kubernetes sandbox (emulator) listening on %s (%d objects loaded from %s)",
            url,
            loaded,
            state_path,
        )
        tasks = [
            asyncio.create_task(_housekeeping(emulator, state_path)),
            asyncio.create_task(_controller(emulator)),
        ]
        try:
            yield url
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            save_state(emulator, state_path)
            logger.info("Kubernetes sandbox stopped; state saved to %s", state_path)


async def _serve(*, host: str, port: int, state_path: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with sandbox_server(host=host, port=port, state_path=state_path):
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Kubernetes API emulator for edgewright")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--state", type=Path, default=Path("data/sandbox-kube.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per poll is noise
    asyncio.run(_serve(host=args.host, port=args.port, state_path=args.state))


if __name__ == "__main__":
    main()
