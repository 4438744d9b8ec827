"""Raw REST access to the kinds a workload is made of, one code path for all of them.

Deployments, StatefulSets, Services and KubeEdge's EdgeApplications and NodeGroups differ
only in their URL, so they go through `ApiClient.call_api` as JSON rather than through
five typed clients (whose models also reject objects missing fields they call required).
Calls raise the client's `ApiException`; callers classify it with `kube_errors`.
Synchronous: run it in the worker's thread pool.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from adapters.kubernetes.workload_manifests import APPS_KUBEEDGE, Body, labels_of
from workflows.contracts.common import MANAGED_BY, MANAGED_BY_LABEL
from workflows.contracts.workloads import WORKLOAD_LABEL

REQUEST_TIMEOUT = (5.0, 30.0)
MERGE_PATCH = "application/merge-patch+json"
PAGE = 500


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    group: str  # "" for the core API
    version: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None) -> str:
        root = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        where = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{root}{where}/{self.plural}" + (f"/{name}" if name else "")


DEPLOYMENT = Kind("Deployment", "deployments", "apps", "v1")
STATEFULSET = Kind("StatefulSet", "statefulsets", "apps", "v1")
SERVICE = Kind("Service", "services", "", "v1")
EDGE_APPLICATION = Kind("EdgeApplication", "edgeapplications", *APPS_KUBEEDGE)
NODE_GROUP = Kind("NodeGroup", "nodegroups", *APPS_KUBEEDGE, namespaced=False)
NODE = Kind("Node", "nodes", "", "v1", namespaced=False)
WORKLOAD_KINDS = {"Deployment": DEPLOYMENT, "StatefulSet": STATEFULSET}


def is_ours(obj: Body, workload_id: str | None = None) -> bool:
    labels = labels_of(obj)
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        return False
    return workload_id is None or labels.get(WORKLOAD_LABEL) == workload_id


class WorkloadObjects:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._api = api_client

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Body:
        response = self._api.call_api(
            path,
            method,
            query_params=[(key, value) for key, value in (query or {}).items() if value],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        data: Body = json.loads(response.data)  # reading it all hands the connection back
        return data

    def get(self, kind: Kind, namespace: str | None, name: str) -> Body | None:
        try:
            return self.request("GET", kind.path(namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, kind: Kind, body: Body) -> Body:
        namespace = (body.get("metadata") or {}).get("namespace")
        return self.request("POST", kind.path(namespace), body=body)

    def patch(self, kind: Kind, namespace: str | None, name: str, patch: Body) -> Body:
        path = kind.path(namespace, name)
        return self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    def delete(self, kind: Kind, obj: Body) -> bool:
        """Delete an object we read; False when it was already gone."""
        meta = obj.get("metadata") or {}
        # The uid precondition turns a same-named object created since our read into a 409.
        body = {"preconditions": {"uid": meta["uid"]}} if meta.get("uid") else None
        try:
            self.request("DELETE", kind.path(meta.get("namespace"), meta["name"]), body=body)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def list_workload(self, kind: Kind, namespace: str, workload_id: str) -> Iterator[Body]:
        """Our objects of one workload. The label selector is re-checked here: the sandbox
        ignores selectors, and the check costs nothing on a real cluster."""
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY},{WORKLOAD_LABEL}={workload_id}"
        for item in self.list(kind, namespace, selector=selector):
            if is_ours(item, workload_id):
                yield item

    def list(self, kind: Kind, namespace: str | None, *, selector: str = "") -> Iterator[Body]:
        token: str | None = None
        while True:
            query = {"labelSelector": selector, "limit": PAGE, "continue": token}
            page = self.request("GET", kind.path(namespace), query=query)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return

    def serves(self, group: str, version: str, plurals: set[str]) -> bool:
        """Whether API discovery lists every one of `plurals` in group/version."""
        try:
            found = self.request("GET", f"/apis/{group}/{version}")
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        served = {resource.get("name") for resource in found.get("resources") or []}
        return plurals <= served
