"""A login token's signature is verified once per process; its expiry on every use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.core.auth import TokenError, TokenExpired, decode_token, issue_token
from store.models import User
from tests.api.helpers import make_settings

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def test_a_token_seen_before_still_expires_and_a_forged_one_stays_refused(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    user = User(uid="u-1", username="ada", role="viewer")
    issued = issue_token(settings=settings, user=user, now=datetime.now(UTC))
    first = decode_token(settings=settings, token=issued.token)
    assert decode_token(settings=settings, token=issued.token) == first  # the memo
    leeway = timedelta(seconds=10)
    late = issued.expires_at + leeway
    assert decode_token(settings=settings, token=issued.token, now=late - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        decode_token(settings=settings, token=issued.token, now=late)
    head, payload, signature = issued.token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    for _ in range(2):
        with pytest.raises(TokenError, match="Invalid token"):
            decode_token(settings=settings, token=forged)
    other_key = make_settings(tmp_path / "other", secret_key="x" * 48)
    with pytest.raises(TokenError, match="Invalid token"):  # the memo is per signing key
        decode_token(settings=other_key, token=issued.token)
    never_seen = issue_token(settings=settings, user=user, now=NOW - timedelta(days=30))
    with pytest.raises(TokenExpired):
        decode_token(settings=settings, token=never_seen.token)
