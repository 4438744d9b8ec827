"""Certificates: renewing CloudCore's serving certificate (CertificateRenewalWorkflow)."""
