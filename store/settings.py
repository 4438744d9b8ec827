"""Process configuration, read from `EDGEWRIGHT_*` environment variables (and `.env`).

Every process (API, worker, bridge, stack launcher, tests) builds one `Settings` in its
entry point and passes it down; nothing reads the environment at import time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KubeMode(StrEnum):
    """How the worker reaches Kubernetes."""

    AUTO = "auto"  # kubeconfig or in-cluster config when present, else the sandbox
    CLUSTER = "cluster"  # a real cluster; fail when none is configured
    SANDBOX = "sandbox"  # the local API emulator at `sandbox_url`


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDGEWRIGHT_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default SQLite file in data_dir. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Root secret; JWT signing and token sealing keys are derived from it. "
        "Generated into data_dir by `make run` when unset.",
    )
    admin_username: str = "admin"
    admin_password: SecretStr | None = None

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "edgewright"

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883

    kube_mode: KubeMode = KubeMode.AUTO
    sandbox_url: str = "http://127.0.0.1:8001"
    kubeedge_namespace: str = "kubeedge"
    device_namespace: str = "default"

    cloudcore_address: str | None = Field(
        default=None,
        description="Advertised CloudCore IP or host used when a join request names no cloud_ip.",
    )
    cloudcore_port: int = Field(default=10000, ge=1, le=65535)
    kubeedge_version: str | None = None
    join_token_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    join_answer_timeout_seconds: float = Field(default=30.0, gt=0)

    jwt_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60)
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per minute per user or API key (default)"
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_public_url: str | None = None

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        for name in ("secret_key", "admin_password"):
            value: SecretStr | None = getattr(self, name)
            if value is not None and value.get_secret_value().lower() in _PLACEHOLDERS:
                raise ValueError(f"EDGEWRIGHT_{name.upper()} is a placeholder; set a real secret")
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("EDGEWRIGHT_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'edgewright.db').as_posix()}"

    @property
    def public_api_url(self) -> str:
        return self.api_public_url or f"http://{self.api_host}:{self.api_port}"

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose, derived from the root secret (HMAC-SHA256)."""
        if self.secret_key is None:
            raise RuntimeError("EDGEWRIGHT_SECRET_KEY is not set")
        root = self.secret_key.get_secret_value().encode()
        return hmac.new(root, purpose.encode(), hashlib.sha256).digest()

    @cached_property
    def sealing_key(self) -> bytes:
        """Fernet key for secrets that must cross Temporal history (join tokens)."""
        return base64.urlsafe_b64encode(self.derived_key("edgewright/seal/v1"))

    @cached_property
    def jwt_key(self) -> bytes:
        return self.derived_key("edgewright/jwt/v1")


_PLACEHOLDERS = {"changeme", "change-me", "changethis", "secret", "password", "admin", "admin123"}
