"""Shared by the join activity tests: settings that point at the session's sandbox."""

from __future__ import annotations

import secrets

import pytest

from store.settings import KubeMode, Settings


@pytest.fixture
def settings(kube_sandbox_url: str) -> Settings:
    return Settings(
        secret_key=secrets.token_urlsafe(48),
        kube_mode=KubeMode.SANDBOX,
        sandbox_url=kube_sandbox_url,
    )
