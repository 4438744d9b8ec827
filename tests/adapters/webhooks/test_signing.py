"""Both signatures of a delivery verify the way a receiver checks them: the in-body one
by recomputing it, the headers with the `standardwebhooks` library."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from adapters.webhooks.signing import delivery_body, delivery_headers

SECRET = "your-webhook-secret"
DATA = {"device_id": "edge-device-001", "node_name": "edge-node-001", "ü": "ß"}


def body_and_headers(secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = delivery_body(
        secret,
        msg_id="dlv_1",
        event="device_joined",
        occurred_at=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        data=DATA,
    )
    return body, delivery_headers(secret, msg_id="dlv_1", body=body, at=datetime.now(UTC))


def test_body_signature_is_hmac_of_sorted_compact_event_and_data() -> None:
    body, _ = body_and_headers()
    payload = json.loads(body)
    canonical = json.dumps(
        {"event": payload["event"], "data": payload["data"]}, sort_keys=True, separators=(",", ":")
    )
    expected = hmac.new(SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    assert payload["signature"] == f"sha256={expected}"
    assert payload["id"] == "dlv_1"
    assert payload["timestamp"] == "2024-01-15T10:30:00.000Z"


def test_standard_webhooks_library_verifies_the_headers() -> None:
    body, headers = body_and_headers()
    assert Webhook(SECRET.encode()).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(b"another-secret-entirely").verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET.encode()).verify(body.replace(b"001", b"002"), headers)
