"""CertificateActivities over HTTP against the Kubernetes sandbox (one namespace per test).

Each test gets a namespace of its own with CloudCore's two Secrets and Deployment, made
as CloudCore and its chart make them (simulator/kube_sandbox_cloudcore.py).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.certificates.renewal import RESTARTED_AT, CertificateActivities, restored_mark
from adapters.kubernetes.client import KubeTarget, connect_kube
from simulator import kube_sandbox_install as install
from simulator.kube_sandbox_cloudcore import new_ca, new_cloudcore_certificate
from store.audit import AuditEvent, list_audit_events
from store.certificates import load_certificates
from store.settings import KubeMode, Settings
from tests.support.helpers import eventually
from tests.support.kube_fixtures import hold_rollouts
from tests.support.store_fixtures import migrate
from workflows.contracts.certificates import (
    RENEWAL_ANNOTATION,
    RenewalProgress,
    RenewalRecord,
    RenewalStatus,
    RenewalTarget,
    RestartInput,
)

env = ActivityEnvironment()


@pytest.fixture
def target(kube_sandbox_url: str) -> KubeTarget:
    return connect_kube(Settings(kube_mode=KubeMode.SANDBOX, sandbox_url=kube_sandbox_url))


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about Kubernetes. The audit log's store code runs on
    both databases in tests/store/audit; the list is one observed-state row."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'edgewright.db'}"
    await migrate(url)
    return url


@pytest.fixture
def acts(target: KubeTarget, sessions: async_sessionmaker[AsyncSession]) -> CertificateActivities:
    return CertificateActivities(target=target, sessions=sessions)


def _secret(namespace: str, name: str, data: dict[str, bytes]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


@pytest.fixture
async def namespace(target: KubeTarget) -> str:
    """A KubeEdge namespace with CloudCore's CA, certificate and Deployment (rolled out)."""
    ns = f"kubeedge-{uuid.uuid4().hex[:8]}"
    core, apps = client.CoreV1Api(target.api_client), client.AppsV1Api(target.api_client)
    cadata, cakeydata = new_ca()
    # Made an hour ago, so a renewal's later not_after shows in whole seconds.
    cert, key = new_cloudcore_certificate(
        cadata=cadata, cakeydata=cakeydata, now=datetime.now(UTC) - timedelta(hours=1)
    )
    deployment = copy.deepcopy(install.deployment())
    deployment["metadata"]["namespace"] = ns

    def create() -> None:
        hold_rollouts(target.api_client, ns, held=False)  # creates the namespace
        core.create_namespaced_secret(
            ns, _secret(ns, "casecret", {"cadata": cadata, "cakeydata": cakeydata})
        )
        core.create_namespaced_secret(
            ns,
            _secret(ns, "cloudcoresecret", {"cloudcoredata": cert, "cloudcorekeydata": key}),
        )
        apps.create_namespaced_deployment(ns, deployment)

    await asyncio.to_thread(create)
    return ns


def secret_data(target: KubeTarget, ns: str, name: str) -> tuple[dict[str, bytes], dict[str, str]]:
    secret = client.CoreV1Api(target.api_client).read_namespaced_secret(name, ns)
    data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
    return data, dict(secret.metadata.annotations or {})


def read_deployment(target: KubeTarget, ns: str) -> client.V1Deployment:
    return client.AppsV1Api(target.api_client).read_namespaced_deployment("cloudcore", ns)


async def test_issue_signs_a_new_key_with_the_same_names_and_a_retry_adopts_it(
    acts: CertificateActivities, target: KubeTarget, namespace: str
) -> None:
    before, _ = await asyncio.to_thread(secret_data, target, namespace, "cloudcoresecret")
    old = x509.load_der_x509_certificate(before["cloudcoredata"])
    renewal = RenewalTarget(namespace=namespace, renewal_id=str(uuid.uuid4()))

    issued = await asyncio.to_thread(env.run, acts.issue_cloudcore_certificate, renewal)
    again = await asyncio.to_thread(env.run, acts.issue_cloudcore_certificate, renewal)

    after, annotations = await asyncio.to_thread(secret_data, target, namespace, "cloudcoresecret")
    new = x509.load_der_x509_certificate(after["cloudcoredata"])
    assert issued.previous_serial == format(old.serial_number, "X")
    assert issued.serial == format(new.serial_number, "X") != issued.previous_serial
    assert (again.serial, again.adopted) == (issued.serial, True)  # one renewal, one certificate
    assert annotations[RENEWAL_ANNOTATION] == renewal.renewal_id
    assert new.subject == old.subject
    sans = x509.SubjectAlternativeName
    assert new.extensions.get_extension_for_class(sans).value == (
        old.extensions.get_extension_for_class(sans).value
    )
    assert new.not_valid_after_utc > old.not_valid_after_utc
    # The key in the Secret is the certificate's, and the CA signed it.
    key = serialization.load_der_private_key(after["cloudcorekeydata"], password=None)
    assert key.public_key() == new.public_key()
    ca_data, _ = await asyncio.to_thread(secret_data, target, namespace, "casecret")
    new.verify_directly_issued_by(x509.load_der_x509_certificate(ca_data["cadata"]))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    # The old certificate waits beside it, for the compensation.
    assert after["previous.cloudcoredata"] == before["cloudcoredata"]
    assert after["previous.cloudcorekeydata"] == before["cloudcorekeydata"]


async def test_restart_rolls_cloudcore_once_however_often_it_is_retried(
    acts: CertificateActivities, target: KubeTarget, namespace: str
) -> None:
    restart = RestartInput(namespace=namespace, restarted_at="2026-12-02T07:00:00+00:00")
    generation = (await asyncio.to_thread(read_deployment, target, namespace)).metadata.generation

    await asyncio.to_thread(env.run, acts.restart_cloudcore, restart)
    await asyncio.to_thread(env.run, acts.restart_cloudcore, restart)

    deployment = await asyncio.to_thread(read_deployment, target, namespace)
    assert deployment.spec.template.metadata.annotations[RESTARTED_AT] == restart.restarted_at
    assert deployment.metadata.generation == generation + 1

    async def complete() -> bool:
        state = await asyncio.to_thread(env.run, acts.read_cloudcore_restart, restart)
        return state.complete

    await eventually(complete)


async def test_restore_puts_the_old_certificate_back_once_and_only_its_own(
    acts: CertificateActivities, target: KubeTarget, namespace: str
) -> None:
    before, _ = await asyncio.to_thread(secret_data, target, namespace, "cloudcoresecret")
    renewal = RenewalTarget(namespace=namespace, renewal_id=str(uuid.uuid4()))
    other = RenewalTarget(namespace=namespace, renewal_id=str(uuid.uuid4()))
    await asyncio.to_thread(env.run, acts.issue_cloudcore_certificate, renewal)
    await asyncio.to_thread(hold_rollouts, target.api_client, namespace)
    restart = RestartInput(namespace=namespace, restarted_at="2026-12-02T07:00:00+00:00")
    await asyncio.to_thread(env.run, acts.restart_cloudcore, restart)

    refused = await asyncio.to_thread(env.run, acts.restore_cloudcore_certificate, other)
    restored = await asyncio.to_thread(env.run, acts.restore_cloudcore_certificate, renewal)
    retried = await asyncio.to_thread(env.run, acts.restore_cloudcore_certificate, renewal)

    after, annotations = await asyncio.to_thread(secret_data, target, namespace, "cloudcoresecret")
    assert not refused.restored
    assert restored.restored
    assert retried.restored
    assert after == before  # the old certificate and key, nothing left beside them
    assert annotations[RENEWAL_ANNOTATION] == restored_mark(renewal.renewal_id)
    held = await asyncio.to_thread(env.run, acts.read_cloudcore_restart, restart)
    assert not held.complete  # the held rollout: what made the workflow restore


async def test_forget_drops_the_old_key_and_record_lists_the_new_certificate(
    acts: CertificateActivities,
    target: KubeTarget,
    namespace: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    renewal = RenewalTarget(namespace=namespace, renewal_id=str(uuid.uuid4()))
    issued = await asyncio.to_thread(env.run, acts.issue_cloudcore_certificate, renewal)
    await asyncio.to_thread(env.run, acts.forget_previous_certificate, renewal)
    await asyncio.to_thread(env.run, acts.forget_previous_certificate, renewal)

    after, _ = await asyncio.to_thread(secret_data, target, namespace, "cloudcoresecret")
    assert set(after) == {"cloudcoredata", "cloudcorekeydata"}

    progress = RenewalProgress(
        namespace=namespace,
        name="cloudcoresecret",
        status=RenewalStatus.SUCCEEDED,
        message="done",
        requested_by="admin",
        serial=issued.serial,
    )
    record = RenewalRecord(namespace=namespace, renewal_id=renewal.renewal_id, progress=progress)
    await env.run(acts.record_certificate_renewal, record)
    await env.run(acts.record_certificate_renewal, record)  # a retried step
    async with sessions() as session:
        row = await load_certificates(session)
        audited, _ = await list_audit_events(session, event=AuditEvent.CERTIFICATE_RENEWED)
    mine = [event for event in audited if event.details["run_id"] == renewal.renewal_id]
    assert len(mine) == 1
    assert (mine[0].actor, mine[0].outcome) == ("admin", "success")
    assert mine[0].details["serial"] == issued.serial
    assert row is not None
    listed = {item["name"]: item for item in row.value["certificates"]}
    assert set(listed) == {"casecret", "cloudcoresecret"}
    assert listed["cloudcoresecret"]["serial"] == issued.serial
    assert "IP:127.0.0.1" in listed["cloudcoresecret"]["sans"]
    assert row.value["absent"] == []
