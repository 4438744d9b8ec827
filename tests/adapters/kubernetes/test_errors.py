"""Classification of Kubernetes API failures, unit by unit and over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import kmock
import pytest
from kubernetes.client.exceptions import ApiException
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.join.kubernetes import KubeActivities
from adapters.kubernetes.client import connect_kube
from adapters.kubernetes.errors import classify_api_exception
from store.settings import Settings
from tests.support.helpers import free_port
from workflows.contracts.common import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ErrorType,
    NodeRef,
    ObjectRef,
    TransientKubeError,
)
from workflows.contracts.join import EdgecoreConfigMapInput

env = ActivityEnvironment()


def sandbox_activities(url: str) -> KubeActivities:
    return KubeActivities(target=connect_kube(Settings(kube_mode="sandbox", sandbox_url=url)))


def failure(call: object, arg: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        env.run(call, arg)  # type: ignore[arg-type]
    return info.value


def api_exception(status: int, reason: str, *, body: object = None) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps(body) if body is not None else None
    exc.headers = {"Retry-After": "7"} if status == 429 else {}
    return exc


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, ErrorType.KUBE_REJECTED),
        (401, ErrorType.UNAUTHORIZED),
        (403, ErrorType.FORBIDDEN),
        (404, ErrorType.NOT_FOUND),
        (405, ErrorType.KUBE_REJECTED),
        (422, ErrorType.INVALID),
    ],
)
def test_final_statuses(status: int, error_type: ErrorType) -> None:
    status_body = {"kind": "Status", "reason": "Because", "message": "the API said no"}
    error = classify_api_exception(
        api_exception(status, "Nope", body=status_body), what="apply ConfigMap ns/cm"
    )
    assert (error.type, error.non_retryable) == (error_type, True)
    assert error.message == f"apply ConfigMap ns/cm: HTTP {status} Because: the API said no"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (0, TransientKubeError.UNAVAILABLE),
        (409, TransientKubeError.CONFLICT),
        (429, TransientKubeError.THROTTLED),
        (500, TransientKubeError.SERVER_ERROR),
        (503, TransientKubeError.SERVER_ERROR),
    ],
)
def test_transient_statuses(status: int, error_type: TransientKubeError) -> None:
    error = classify_api_exception(api_exception(status, "Busy"), what="read Node n1")
    assert (error.type, error.non_retryable) == (error_type, False)
    assert error.next_retry_delay == (timedelta(seconds=7) if status == 429 else None)


def test_bodies_stay_out_of_messages() -> None:
    leaked = {"kind": "Secret", "data": {"cakeydata": "c3VwZXJzZWNyZXQ="}}
    error = classify_api_exception(api_exception(400, "Bad Request", body=leaked), what="x")
    assert "c3VwZXJzZWNyZXQ" not in error.message
    assert error.__cause__ is None


async def test_api_failures_over_http() -> None:
    emulator = kmock.KubernetesEmulator()
    emulator.resources["v1/configmaps"] = kmock.ResourceInfo(kind="ConfigMap", namespaced=True)
    emulator.resources["v1/nodes"] = kmock.ResourceInfo(kind="Node", namespaced=False)
    emulator["post /api/v1/namespaces/locked/configmaps"] << kmock.KubernetesError(
        status=403, reason="Forbidden", message='configmaps is forbidden: User "edgewright"'
    )
    # The emulator 404s deletes of objects it does not hold before any reaction answers.
    ours = {"labels": {MANAGED_BY_LABEL: MANAGED_BY}}
    emulator.objects["v1/configmaps", "default", "edgecore-config-n1"] = {"metadata": ours}
    emulator["delete /api/v1/namespaces/default/configmaps/edgecore-config-n1"] << 503
    emulator["get /api/v1/nodes/n1"] << kmock.KubernetesError(status=500, reason="Oops")
    version = {"major": "1", "minor": "31", "gitVersion": "v1.31.4", "gitCommit": "abc"}
    version |= {"gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z"}
    version |= {"goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}
    emulator["get /version/"] << version
    async with emulator, kmock.Server(emulator) as server:
        url = f"http://127.0.0.1:{server.port}"
        acts = sandbox_activities(url)
        inp = EdgecoreConfigMapInput(
            device_id="cam-1",
            node_name="n1",
            namespace="locked",
            cloudcore_host="10.0.0.5",
            cloudcore_port=10000,
        )
        forbidden = await asyncio.to_thread(failure, acts.apply_edgecore_configmap, inp)
        assert (forbidden.type, forbidden.non_retryable) == (ErrorType.FORBIDDEN, True)
        assert "locked/edgecore-config-n1" in forbidden.message
        assert "configmaps is forbidden" in forbidden.message
        ref = ObjectRef(namespace="default", name="edgecore-config-n1")
        unavailable = await asyncio.to_thread(failure, acts.delete_edgecore_configmap, ref)
        assert (unavailable.type, unavailable.non_retryable) == ("KubernetesServerError", False)
        broken = await asyncio.to_thread(failure, acts.read_node_status, NodeRef(node_name="n1"))
        assert (broken.type, broken.non_retryable) == ("KubernetesServerError", False)
        assert await asyncio.to_thread(acts.ping) == "v1.31.4"


def test_unreachable_api_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    error = failure(sandbox_activities(url).read_node_status, NodeRef(node_name="n1"))
    assert (error.type, error.non_retryable) == (TransientKubeError.UNAVAILABLE, False)
