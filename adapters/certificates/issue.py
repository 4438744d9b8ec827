"""Issue CloudCore's serving certificate from its CA, as CloudCore itself does.

kubeedge `pkg/security/certs/x509_certs.go` (`SignCerts`) and
`cloud/pkg/cloudhub/servers/httpserver/pre_server.go` (`createCertsToSecret`): a new
ECDSA P-256 key stored as SEC1 DER, subject CN=KubeEdge O=KubeEdge, the advertised
addresses and DNS names as SANs, key usage digital signature and key encipherment,
extended key usage server auth, a random serial below 2^63, signed by the CA's key.
A renewal copies subject and SANs from the certificate it replaces.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# CloudCore's own lifetime for the certificates it makes: 364 * 100 days.
CLOUDCORE_LIFETIME = timedelta(days=364 * 100)
PROJECT_NAME = "KubeEdge"  # kubeedge common/constants.ProjectName


@dataclass(frozen=True)
class Issued:
    cert_der: bytes
    key_der: bytes  # SEC1, what Go's x509.MarshalECPrivateKey writes
    certificate: x509.Certificate


def cloudcore_subject() -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, PROJECT_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, PROJECT_NAME),
        ]
    )


def _ca_key(ca_key_der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(ca_key_der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("CloudCore's CA key is not an EC key")
    return key


def issue_server_certificate(
    *,
    ca_cert_der: bytes,
    ca_key_der: bytes,
    subject: x509.Name,
    sans: x509.SubjectAlternativeName | None,
    not_before: datetime,
    lifetime: timedelta,
) -> Issued:
    """A new key and a certificate for it, signed by the CA."""
    ca = x509.load_der_x509_certificate(ca_cert_der)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(
        digital_signature=True,
        key_encipherment=True,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        # Go: rand.Int(rand.Reader, MaxInt64); never 0 (RFC 5280 wants a positive serial).
        .serial_number(secrets.randbelow(2**63 - 1) + 1)
        .not_valid_before(not_before)
        .not_valid_after(not_before + lifetime)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if sans is not None:
        builder = builder.add_extension(sans, critical=False)
    cert = builder.sign(_ca_key(ca_key_der), hashes.SHA256())
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return Issued(cert.public_bytes(serialization.Encoding.DER), key_der, cert)


def renew(
    *, previous: x509.Certificate, ca_cert_der: bytes, ca_key_der: bytes, now: datetime
) -> Issued:
    """Same subject and SANs as `previous`, a new key, the same lifetime from `now`."""
    try:
        sans: x509.SubjectAlternativeName | None = previous.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        sans = None
    lifetime = previous.not_valid_after_utc - previous.not_valid_before_utc
    return issue_server_certificate(
        ca_cert_der=ca_cert_der,
        ca_key_der=ca_key_der,
        subject=previous.subject,
        sans=sans,
        not_before=now,
        lifetime=max(lifetime, timedelta(days=1)),
    )
