"""The sandbox's CloudCore certificate: made as CloudCore makes it, signed by the sandbox's
CA, and kept as it is (not made again) when the state is seeded a second time."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from simulator.kube_sandbox import build_emulator
from simulator.kube_sandbox_cloudcore import secret_data, seed_cloudcore


def test_the_seeded_certificate_is_cloudcores_signed_by_the_ca_and_kept() -> None:
    emulator = build_emulator()
    seed_cloudcore(emulator)
    ca = x509.load_der_x509_certificate(secret_data(emulator, "casecret")["cadata"])
    secret = secret_data(emulator, "cloudcoresecret")
    cert = x509.load_der_x509_certificate(secret["cloudcoredata"])

    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "O=KubeEdge,CN=KubeEdge"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert "cloudcore.kubeedge.svc" in sans.get_values_for_type(x509.DNSName)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    key = serialization.load_der_private_key(secret["cloudcorekeydata"], password=None)
    assert key.public_key() == cert.public_key()

    seed_cloudcore(emulator)  # a restart with the state loaded
    assert secret_data(emulator, "cloudcoresecret") == secret
