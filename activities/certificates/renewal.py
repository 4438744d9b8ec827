"""Renew CloudCore's serving certificate: write it, restart CloudCore, undo, record.

Sync activities (the kubernetes client is sync) run in the worker's thread pool. Every
write is a merge patch carrying the resourceVersion just read (a precondition: a Secret
changed since answers 409 and the retry reads again), so two writers never both win,
and each step checks what the Secret already says before writing:
- issuing marks the Secret with the renewal's ID and keeps the certificate and key it
  replaces under `previous.*` keys (CloudCore reads only its own two). A retry whose
  first write landed finds its mark and adopts that certificate: one renewal, one
  certificate. No key ever travels through workflow history.
- restoring puts `previous.*` back only while the Secret still carries this renewal's
  mark (someone else's later write is kept, and said so), then marks it restored.
- the restart sets the pod template annotation `kubectl rollout restart` sets, to the
  run's timestamp: a retried patch changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.certificates.observe import read_certificates
from activities.certificates.secret_data import annotation, data_patch, decoded
from adapters.certificates.issue import renew
from adapters.certificates.x509_facts import NotACertificate, load_certificate, serial_hex
from adapters.kubernetes.client import MERGE_PATCH, REQUEST_TIMEOUT, KubeTarget
from adapters.kubernetes.cloudcore_manifests import NAME, rollout_state
from adapters.kubernetes.errors import kube_errors
from adapters.kubernetes.reads import KubeReader, raw_or_none
from store.audit import AuditEvent, AuditOutcome, append_audit_event
from store.certificates import save_certificates
from store.models import utcnow
from workflows.contracts.certificates import (
    CA_CERT_KEY,
    CA_KEY_KEY,
    CA_SECRET,
    CLOUDCORE_CERT_KEY,
    CLOUDCORE_KEY_KEY,
    CLOUDCORE_SECRET,
    PREVIOUS_PREFIX,
    RENEWAL_ANNOTATION,
    CertificateActivity,
    IssuedCertificate,
    RenewalRecord,
    RenewalStatus,
    RenewalTarget,
    RestartInput,
    RestoreOutcome,
)
from workflows.contracts.cloudcore import CloudCoreRolloutState
from workflows.contracts.common import ErrorType

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` sets
OLD_CERT, OLD_KEY = PREVIOUS_PREFIX + CLOUDCORE_CERT_KEY, PREVIOUS_PREFIX + CLOUDCORE_KEY_KEY
Body = dict[str, Any]


def restored_mark(renewal_id: str) -> str:
    return f"restored/{renewal_id}"


def _final(message: str, type_: str = ErrorType.NOT_FOUND) -> ApplicationError:
    return ApplicationError(message, type=type_, non_retryable=True)


class CertificateActivities:
    def __init__(self, *, target: KubeTarget, sessions: async_sessionmaker[AsyncSession]) -> None:
        reader = KubeReader(target=target)
        self._core = reader.core
        self._apps = reader.apps
        self._sessions = sessions

    @activity.defn(name=CertificateActivity.ISSUE)
    def issue_cloudcore_certificate(self, inp: RenewalTarget) -> IssuedCertificate:
        ns = inp.namespace
        secret = self._secret(ns, CLOUDCORE_SECRET)
        data = decoded(secret)
        if annotation(secret, RENEWAL_ANNOTATION) == inp.renewal_id and OLD_CERT in data:
            return IssuedCertificate(  # a retry: this renewal's certificate is written
                previous_serial=_serial(data[OLD_CERT]),
                serial=_serial(data[CLOUDCORE_CERT_KEY]),
                not_after=_certificate(data[CLOUDCORE_CERT_KEY]).not_valid_after_utc,
                adopted=True,
            )
        if not {CLOUDCORE_CERT_KEY, CLOUDCORE_KEY_KEY} <= set(data):
            raise _final(f"Secret {ns}/{CLOUDCORE_SECRET} holds no certificate and key")
        ca = decoded(self._secret(ns, CA_SECRET))
        if not {CA_CERT_KEY, CA_KEY_KEY} <= set(ca):
            raise _final(f"Secret {ns}/{CA_SECRET} holds no CA certificate and key")
        previous = _certificate(data[CLOUDCORE_CERT_KEY])
        issued = renew(
            previous=previous,
            ca_cert_der=ca[CA_CERT_KEY],
            ca_key_der=ca[CA_KEY_KEY],
            now=datetime.now(UTC),
        )
        kept = {k: v for k, v in data.items() if not k.startswith(PREVIOUS_PREFIX)}
        new_data = {
            **kept,
            CLOUDCORE_CERT_KEY: issued.cert_der,
            CLOUDCORE_KEY_KEY: issued.key_der,
            OLD_CERT: data[CLOUDCORE_CERT_KEY],
            OLD_KEY: data[CLOUDCORE_KEY_KEY],
        }
        self._write(
            ns, data_patch(secret, new_data, annotations={RENEWAL_ANNOTATION: inp.renewal_id})
        )
        activity.logger.info(
            "Issued CloudCore certificate %s (replaces %s) into Secret %s/%s",
            serial_hex(issued.certificate.serial_number),
            serial_hex(previous.serial_number),
            ns,
            CLOUDCORE_SECRET,
        )
        return IssuedCertificate(
            previous_serial=serial_hex(previous.serial_number),
            serial=serial_hex(issued.certificate.serial_number),
            not_after=issued.certificate.not_valid_after_utc,
        )

    @activity.defn(name=CertificateActivity.RESTART)
    def restart_cloudcore(self, inp: RestartInput) -> None:
        ns = inp.namespace
        patch = {
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: inp.restarted_at}}}}
        }
        with kube_errors(action="restart", kind="Deployment", name=NAME, namespace=ns):
            self._apps.patch_namespaced_deployment(
                NAME, ns, patch, _content_type=MERGE_PATCH, _request_timeout=REQUEST_TIMEOUT
            )

    @activity.defn(name=CertificateActivity.READ_ROLLOUT)
    def read_cloudcore_restart(self, inp: RestartInput) -> CloudCoreRolloutState:
        ns = inp.namespace
        with kube_errors(action="read", kind="Deployment", name=NAME, namespace=ns):
            deployment = raw_or_none(self._apps.read_namespaced_deployment, NAME, ns)
        desired = int(((deployment or {}).get("spec") or {}).get("replicas", 1))
        return rollout_state(deployment, desired=desired)

    @activity.defn(name=CertificateActivity.RESTORE)
    def restore_cloudcore_certificate(self, inp: RenewalTarget) -> RestoreOutcome:
        ns, where = inp.namespace, f"Secret {inp.namespace}/{CLOUDCORE_SECRET}"
        secret = self._secret(ns, CLOUDCORE_SECRET)
        mark = annotation(secret, RENEWAL_ANNOTATION)
        if mark == restored_mark(inp.renewal_id):
            return RestoreOutcome(restored=True, message=f"{where} already restored")
        data = decoded(secret)
        if mark != inp.renewal_id:
            message = f"{where} was written by someone else since; left as it is"
            activity.logger.warning(message)
            return RestoreOutcome(restored=False, message=message)
        if not {OLD_CERT, OLD_KEY} <= set(data):
            return RestoreOutcome(restored=False, message=f"{where} keeps no previous certificate")
        kept = {k: v for k, v in data.items() if not k.startswith(PREVIOUS_PREFIX)}
        kept |= {CLOUDCORE_CERT_KEY: data[OLD_CERT], CLOUDCORE_KEY_KEY: data[OLD_KEY]}
        marks = {RENEWAL_ANNOTATION: restored_mark(inp.renewal_id)}
        self._write(ns, data_patch(secret, kept, annotations=marks))
        activity.logger.info("Put the previous CloudCore certificate back into %s", where)
        return RestoreOutcome(restored=True, message=f"previous certificate back in {where}")

    @activity.defn(name=CertificateActivity.FORGET_PREVIOUS)
    def forget_previous_certificate(self, inp: RenewalTarget) -> None:
        """After a good restart the old key has no use left: drop it from the Secret."""
        secret = self._secret(inp.namespace, CLOUDCORE_SECRET)
        data = decoded(secret)
        if annotation(secret, RENEWAL_ANNOTATION) != inp.renewal_id:
            return  # not ours any more, or already done by a retry
        if not any(key.startswith(PREVIOUS_PREFIX) for key in data):
            return
        kept = {k: v for k, v in data.items() if not k.startswith(PREVIOUS_PREFIX)}
        self._write(inp.namespace, data_patch(secret, kept, annotations={}))

    @activity.defn(name=CertificateActivity.RECORD)
    async def record_certificate_renewal(self, inp: RenewalRecord) -> None:
        """The one place a renewal is recorded: the certificates' snapshot for the list and
        the security audit log's entry (once per renewal, so a retried step adds none)."""
        observed_at = utcnow()  # before the read: see store.cloudcore.save_observed
        snapshot = await asyncio.to_thread(self._read_all, inp.namespace)
        progress = inp.progress
        async with self._sessions() as session, session.begin():
            await save_certificates(session, snapshot=snapshot, observed_at=observed_at)
            await append_audit_event(
                session,
                event=AuditEvent.CERTIFICATE_RENEWED,
                outcome=(
                    AuditOutcome.SUCCESS
                    if progress.status is RenewalStatus.SUCCEEDED
                    else AuditOutcome.FAILURE
                ),
                actor=progress.requested_by,
                target=f"certificate:{progress.name}",
                details={
                    "run_id": inp.renewal_id,
                    "status": progress.status.value,
                    "previous_serial": progress.previous_serial,
                    "serial": progress.serial,
                },
                dedupe=f"certificate-renewed:{inp.renewal_id}",
            )
        activity.logger.info(
            "Certificate renewal %s of %s by %s: %s (serial %s -> %s)",
            inp.renewal_id,
            progress.name,
            progress.requested_by,
            progress.status.value,
            progress.previous_serial,
            progress.serial,
        )

    def _read_all(self, namespace: str) -> dict[str, Any]:
        with kube_errors(action="read", kind="Secret", name="certificates", namespace=namespace):
            return read_certificates(self._core, namespace=namespace)

    def _secret(self, namespace: str, name: str) -> Body:
        with kube_errors(action="read", kind="Secret", name=name, namespace=namespace):
            secret = raw_or_none(self._core.read_namespaced_secret, name, namespace)
        if secret is None:
            raise _final(f"no Secret {namespace}/{name}")
        return secret

    def _write(self, namespace: str, patch: Body) -> None:
        # A 409 (changed since the read) is retryable: the retry reads again and decides.
        with kube_errors(
            action="update", kind="Secret", name=CLOUDCORE_SECRET, namespace=namespace
        ):
            self._core.patch_namespaced_secret(
                CLOUDCORE_SECRET,
                namespace,
                patch,
                _content_type=MERGE_PATCH,
                _request_timeout=REQUEST_TIMEOUT,
            )


def _certificate(data: bytes) -> x509.Certificate:
    try:
        return load_certificate(data)
    except NotACertificate:
        raise _final(
            f"Secret {CLOUDCORE_SECRET} holds no X.509 certificate", ErrorType.INVALID
        ) from None


def _serial(data: bytes) -> str:
    return serial_hex(_certificate(data).serial_number)
