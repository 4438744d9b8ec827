"""Certificates edgewright can see (`/api/kubeedge/security/certificates`) and renewals."""
