"""Mint KubeEdge join tokens the way CloudCore does, but one per node.

A token is `hex(sha256(cadata)) + "." + JWT`, the JWT signed HS256 with the raw
`cakeydata` bytes of Secret `casecret` (kubeedge pkg/security/token/token.go). Stock
CloudCore checks the CA hash and the signature and expiry, so our short-lived per-node
tokens are accepted as they are; extra claims are ignored by CloudCore and let our
sandbox edgecore tie a token to its node.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import jwt


def ca_hash(cadata: bytes) -> str:
    return hashlib.sha256(cadata).hexdigest()


def mint_join_token(
    *, cadata: bytes, cakeydata: bytes, node_name: str, token_id: str, expires_at: datetime
) -> str:
    """Deterministic for the same inputs, so a retried issue yields the same token."""
    claims = {"exp": int(expires_at.timestamp()), "nodeName": node_name, "jti": token_id}
    signed = jwt.encode(claims, cakeydata, algorithm="HS256")
    return f"{ca_hash(cadata)}.{signed}"


def verify_join_token(*, token: str, cadata: bytes, cakeydata: bytes) -> dict[str, object]:
    """Check a token as CloudCore would; raises jwt.InvalidTokenError when it is not valid."""
    digest, _, signed = token.partition(".")
    if digest != ca_hash(cadata):
        raise jwt.InvalidTokenError("token was issued for another cluster CA")
    claims: dict[str, object] = jwt.decode(signed, cakeydata, algorithms=["HS256"])
    return claims
