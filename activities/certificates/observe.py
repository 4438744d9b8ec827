"""Read the certificates CloudCore keeps in its Secrets: their public facts, or why not.

Only certificates leave this module (subject, SANs, issuer, serial, validity); keys are
read with them, as Secrets come whole, and dropped here.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from activities.certificates.secret_data import decoded
from adapters.certificates.x509_facts import NotACertificate, facts_of, load_certificate
from adapters.kubernetes.reads import raw_or_none
from workflows.contracts.certificates import (
    CA_CERT_KEY,
    CA_SECRET,
    CLOUDCORE_CERT_KEY,
    CLOUDCORE_SECRET,
)

# (listed name, Secret, data key): CloudCore's CA first, then its serving certificate.
CLOUDCORE_CERTIFICATES: tuple[tuple[str, str, str], ...] = (
    (CA_SECRET, CA_SECRET, CA_CERT_KEY),
    (CLOUDCORE_SECRET, CLOUDCORE_SECRET, CLOUDCORE_CERT_KEY),
)


def read_certificates(core: client.CoreV1Api, *, namespace: str) -> dict[str, Any]:
    """The snapshot the API lists: `certificates` (facts as JSON) and `absent` (with why).

    Callers wrap it in `kube_errors` or treat any exception as "could not read".
    """
    found: list[dict[str, Any]] = []
    absent: list[dict[str, str]] = []
    for name, secret_name, key in CLOUDCORE_CERTIFICATES:
        secret = raw_or_none(core.read_namespaced_secret, secret_name, namespace)
        data = decoded(secret) if secret is not None else {}
        where = f"Secret {namespace}/{secret_name}"
        if secret is None:
            absent.append({"name": name, "secret": secret_name, "reason": f"no {where}"})
            continue
        if key not in data:
            absent.append({"name": name, "secret": secret_name, "reason": f"{where} has no {key}"})
            continue
        try:
            cert = load_certificate(data[key])
        except NotACertificate:
            reason = f"{where} {key} is not an X.509 certificate"
            absent.append({"name": name, "secret": secret_name, "reason": reason})
            continue
        found.append(facts_of(cert, name=name, secret=secret_name).model_dump(mode="json"))
    return {"certificates": found, "absent": absent}
