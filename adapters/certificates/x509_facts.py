"""The public facts of a DER or PEM certificate (subject, SANs, issuer, serial, validity)."""

from __future__ import annotations

from cryptography import x509

from workflows.contracts.certificates import CertificateFacts


class NotACertificate(ValueError):
    """The bytes are not an X.509 certificate (the Secret holds something else)."""


def load_certificate(data: bytes) -> x509.Certificate:
    """DER (what CloudCore stores) or PEM (a TLS certificate file)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as err:
        raise NotACertificate(str(err)) from None


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """`DNS:cloudcore.kubeedge.svc`, `IP:10.0.0.5`, as openssl prints them."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [f"DNS:{name}" for name in ext.get_values_for_type(x509.DNSName)]
    names += [f"IP:{ip}" for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def serial_hex(serial: int) -> str:
    return format(serial, "X")


def facts_of(cert: x509.Certificate, *, name: str, secret: str | None) -> CertificateFacts:
    return CertificateFacts(
        name=name,
        secret=secret,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=subject_alt_names(cert),
        serial=serial_hex(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
