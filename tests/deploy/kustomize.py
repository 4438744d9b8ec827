"""Rendering deploy/kubernetes/: with `kubectl kustomize` when installed, and in Python.

The Python rendering covers what our kustomizations use (resources, `images`, `labels`
without selectors, and patches merged by kind and name or by a target's kind and label
selector), so the manifests are checked on machines without kubectl too; where kubectl
exists a test checks that both renderings agree.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.commands import ROOT

KUSTOMIZE = ROOT / "deploy" / "kubernetes"
TARGETS = {
    "base": KUSTOMIZE / "base",
    "production": KUSTOMIZE / "overlays" / "production",
    "try-it": KUSTOMIZE / "overlays" / "try-it",
}
Doc = dict[str, Any]


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render_with_kubectl(directory: Path) -> list[Doc]:
    binary = kubectl()
    assert binary is not None
    out = subprocess.run(
        [binary, "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def render_in_python(directory: Path) -> list[Doc]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            docs += render_in_python(path)
        else:
            # Through JSON: YAML aliases (`*labels`) must become copies, or the labels
            # added below would land in the selectors that share them.
            loaded = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
            docs += json.loads(json.dumps(loaded))
    for patch in kustomization.get("patches", []):
        body = yaml.safe_load((directory / patch["path"]).read_text())
        for doc in docs:
            if _selected(doc, body, patch.get("target")):
                _merge(doc, copy.deepcopy({k: v for k, v in body.items() if k != "metadata"}))
                _merge(doc.setdefault("metadata", {}), _patch_metadata(body, patch))
    for image in kustomization.get("images", []):
        for container in _containers(docs):
            if container.get("image") == image["name"]:
                container["image"] = f"{image['newName']}:{image['newTag']}"
    for label in kustomization.get("labels", []):
        assert not label.get("includeSelectors"), "selector labels are not rendered here"
        for doc in docs:
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    return docs


def _patch_metadata(body: Doc, patch: Doc) -> Doc:
    meta = dict(body.get("metadata") or {})
    if patch.get("target"):  # the patch's own name is a placeholder
        meta.pop("name", None)
    meta.pop("namespace", None)
    return meta


def _selected(doc: Doc, body: Doc, target: Doc | None) -> bool:
    if target is None:
        same_name = doc["metadata"]["name"] == body["metadata"]["name"]
        return bool(doc["kind"] == body["kind"] and same_name)
    if doc["kind"] != target["kind"]:
        return False
    key, _, values = target["labelSelector"].partition(" in ")
    wanted = {value.strip() for value in values.strip("()").split(",")}
    return (doc["metadata"].get("labels") or {}).get(key.strip()) in wanted


def _merge(into: Doc, patch: Doc) -> None:
    """Maps merge key by key; anything else (lists included) is replaced."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    return None


def _containers(docs: list[Doc]) -> list[Doc]:
    found = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            found += spec.get("initContainers", []) + spec["containers"]
    return found


def containers(docs: list[Doc]) -> list[Doc]:
    return _containers(docs)
