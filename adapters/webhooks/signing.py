"""What a delivery sends: its JSON body and both signatures.

- In the body, the CloudCore document's `signature`: `sha256=` + hex HMAC-SHA256 keyed
  with the secret over the compact, sorted-key JSON of `{"event": ..., "data": ...}`
  (ASCII-escaped, as Python's json module writes it by default).
- In the headers, Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`,
  `webhook-timestamp` (the attempt's, in seconds) and `webhook-signature`: `v1,` +
  base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's UTF-8 bytes, so
  `standardwebhooks.Webhook(secret.encode()).verify(body, headers)` accepts it.

The body stays the same on every try; the headers are made per attempt, because
receivers refuse a `webhook-timestamp` more than a few minutes old.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def canonical(*, event: str, data: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {"event": event, "data": data}, sort_keys=True, separators=(",", ":")
    ).encode()


def body_signature(secret: str, *, event: str, data: Mapping[str, Any]) -> str:
    digest = hmac.new(secret.encode(), canonical(event=event, data=data), hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def standard_signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def delivery_body(
    secret: str, *, msg_id: str, event: str, occurred_at: datetime, data: Mapping[str, Any]
) -> bytes:
    payload = {
        "id": msg_id,
        "event": event,
        "timestamp": iso(occurred_at),
        "data": data,
        "signature": body_signature(secret, event=event, data=data),
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def delivery_headers(secret: str, *, msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    timestamp = int(at.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": "edgewright-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(
            secret, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }
