"""What CloudCore keeps in the cluster, made for the Kubernetes sandbox.

CloudCore creates, in namespace `kubeedge`, Secret `casecret` (a self-signed CA: `cadata`
is the certificate DER, `cakeydata` the SEC1 DER of its ECDSA P-256 key) and Secret
`tokensecret` whose `tokendata` is the cluster-wide join token
`hex(sha256(cadata)) + "." + JWT(HS256, key = raw cakeydata bytes, exp)`, re-minted every
12 hours and valid for twice that (kubeedge `pkg/security/token/token.go`), and Secret
`cloudcoresecret`: its serving certificate signed by that CA (`cloudcoredata`, DER) and
its key (`cloudcorekeydata`, SEC1 DER), made as `createCertsToSecret` in kubeedge
`cloud/pkg/cloudhub/servers/httpserver/pre_server.go` makes it: subject CN=KubeEdge,
O=KubeEdge, the advertised address as an IP SAN and the configured DNS names, 364 * 100
days (adapters/certificates/issue.py).

Its Deployment and Service (simulator/kube_sandbox_install.py) are installed once per state
file, as a cluster set up with KubeEdge's chart has them; deleted later, they stay deleted
(a rollback of a deploy that created them deletes them, and so would an operator).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import kmock
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.certificates.issue import (
    CLOUDCORE_LIFETIME,
    cloudcore_subject,
    issue_server_certificate,
)
from simulator import kube_sandbox_install as install

logger = logging.getLogger(__name__)

KUBEEDGE_NAMESPACE = install.KUBEEDGE_NAMESPACE
# On the kubeedge Namespace: CloudCore's Deployment and Service were installed in this state.
INSTALLED_ANNOTATION = "sandbox.edgewright.io/cloudcore-installed"
# A token read at any moment stays valid for at least this long.
TOKEN_REFRESH = timedelta(hours=12)
# cloudcore.yaml's cloudHub.advertiseAddress and dnsNames in the sandbox: loopback (what
# `make run` tells joining devices) and the Service's in-cluster names.
ADVERTISE_ADDRESS = "127.0.0.1"
DNS_NAMES = ("cloudcore.kubeedge.svc", "cloudcore.kubeedge.svc.cluster.local")
# Parsed resources: `key in emulator.objects` compares keys as stored, so strings never match.
NAMESPACES = kmock.resource("", "v1", "namespaces")
SECRETS = kmock.resource("", "v1", "secrets")
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
SERVICES = kmock.resource("", "v1", "services")


def _secret(name: str, data: dict[str, bytes]) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value).decode() for key, value in data.items()}
    meta = {"name": name, "namespace": KUBEEDGE_NAMESPACE}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "data": encoded,
    }


def new_ca() -> tuple[bytes, bytes]:
    """A self-signed CA as CloudCore makes it: (certificate DER, SEC1 EC P-256 key DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "KubeEdge")])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        key_encipherment=True,
        key_cert_sign=True,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    # TraditionalOpenSSL + DER for an EC key is SEC1, what Go's x509.MarshalECPrivateKey writes.
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.DER), key_der


def cluster_token(*, cadata: bytes, cakeydata: bytes, expires_at: datetime) -> str:
    """hex(sha256(CA)) + "." + an HS256 JWT keyed by the raw CA key bytes, as keadm expects."""
    signed = jwt.encode({"exp": expires_at}, cakeydata, algorithm="HS256")
    return f"{hashlib.sha256(cadata).hexdigest()}.{signed}"


def secret_data(emulator: kmock.KubernetesEmulator, name: str) -> dict[str, bytes]:
    key = (SECRETS, KUBEEDGE_NAMESPACE, name)
    if key not in emulator.objects or emulator.objects[key].deleted:
        return {}
    data = emulator.objects[key].get("data") or {}
    return {field: base64.b64decode(value) for field, value in data.items()}


def seed_cloudcore(emulator: kmock.KubernetesEmulator) -> None:
    """What CloudCore creates on first start; keeps what an earlier run left in place."""
    for namespace in ("default", KUBEEDGE_NAMESPACE):
        key = (NAMESPACES, None, namespace)
        if key not in emulator.objects or emulator.objects[key].deleted:
            meta = {"name": namespace, "labels": {"kubernetes.io/metadata.name": namespace}}
            emulator.objects[key] = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
    ca = secret_data(emulator, "casecret")
    if not {"cadata", "cakeydata"} <= set(ca):
        ca["cadata"], ca["cakeydata"] = new_ca()
        emulator.objects[SECRETS, KUBEEDGE_NAMESPACE, "casecret"] = _secret("casecret", ca)
        logger.info("Sandbox: created a new CloudCore CA in Secret kubeedge/casecret")
    refresh_token(emulator, ca=ca)
    cloudcore = secret_data(emulator, "cloudcoresecret")
    if not {"cloudcoredata", "cloudcorekeydata"} <= set(cloudcore):
        cert_der, key_der = new_cloudcore_certificate(
            cadata=ca["cadata"], cakeydata=ca["cakeydata"]
        )
        cloudcore = {"cloudcoredata": cert_der, "cloudcorekeydata": key_der}
        emulator.objects[SECRETS, KUBEEDGE_NAMESPACE, "cloudcoresecret"] = _secret(
            "cloudcoresecret", cloudcore
        )
        logger.info("Sandbox: created CloudCore's certificate in Secret kubeedge/cloudcoresecret")
    _install_once(emulator)


def new_cloudcore_certificate(
    *, cadata: bytes, cakeydata: bytes, now: datetime | None = None
) -> tuple[bytes, bytes]:
    """CloudCore's serving certificate signed by the CA: (certificate DER, SEC1 key DER)."""
    sans = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address(ADVERTISE_ADDRESS))]
        + [x509.DNSName(name) for name in DNS_NAMES]
    )
    issued = issue_server_certificate(
        ca_cert_der=cadata,
        ca_key_der=cakeydata,
        subject=cloudcore_subject(),
        sans=sans,
        not_before=now or datetime.now(UTC),
        lifetime=CLOUDCORE_LIFETIME,
    )
    return issued.cert_der, issued.key_der


def _install_once(emulator: kmock.KubernetesEmulator) -> None:
    namespace = emulator.objects[NAMESPACES, None, KUBEEDGE_NAMESPACE]
    annotations = dict(namespace.get("metadata", {}).get("annotations") or {})
    if annotations.get(INSTALLED_ANNOTATION) == "true":
        return
    for resource, body in ((DEPLOYMENTS, install.deployment()), (SERVICES, install.service())):
        key = (resource, KUBEEDGE_NAMESPACE, install.NAME)
        if key not in emulator.objects or emulator.objects[key].deleted:
            emulator.objects[key] = body
    annotations[INSTALLED_ANNOTATION] = "true"
    namespace.patch({"metadata": {"annotations": annotations}})
    logger.info("Sandbox: installed CloudCore's Deployment and Service in kubeedge")


def refresh_token(emulator: kmock.KubernetesEmulator, *, ca: dict[str, bytes]) -> bool:
    """Re-mint Secret kubeedge/tokensecret when missing, stale, or signed by another CA."""
    if not {"cadata", "cakeydata"} <= set(ca):
        return False  # no CA (deleted through the API): nothing to sign with
    now = datetime.now(UTC)
    token = secret_data(emulator, "tokensecret").get("tokendata", b"").decode()
    ca_hash, _, signed = token.partition(".")
    try:
        claims = jwt.decode(signed, ca["cakeydata"], algorithms=["HS256"])
        fresh = datetime.fromtimestamp(claims["exp"], UTC) - now > TOKEN_REFRESH
    except (jwt.InvalidTokenError, KeyError):
        fresh = False
    if fresh and ca_hash == hashlib.sha256(ca["cadata"]).hexdigest():
        return False
    token = cluster_token(
        cadata=ca["cadata"], cakeydata=ca["cakeydata"], expires_at=now + 2 * TOKEN_REFRESH
    )
    emulator.objects[SECRETS, KUBEEDGE_NAMESPACE, "tokensecret"] = _secret(
        "tokensecret", {"tokendata": token.encode()}
    )
    return True
