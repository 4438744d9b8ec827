"""Devices' MQTT accounts: which device has one, and the sha256 of its password."""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import MqttCredential, utcnow
from store.upsert import upsert


def password_hash(password: str) -> str:
    # 256 random bits (derived with HMAC from the root secret): a plain sha256 suffices.
    return hashlib.sha256(password.encode()).hexdigest()


async def record(session: AsyncSession, *, device_id: str, username: str, password: str) -> None:
    """Idempotent on the device: a new password replaces the old one's hash."""
    values = {
        "device_id": device_id,
        "username": username,
        "password_hash": password_hash(password),
        "issued_at": utcnow(),
    }
    await upsert(
        session,
        model=MqttCredential,
        values=values,
        key="device_id",
        update=["username", "password_hash", "issued_at"],
    )


async def get(session: AsyncSession, *, device_id: str) -> MqttCredential | None:
    return await session.scalar(select(MqttCredential).where(MqttCredential.device_id == device_id))


async def forget(session: AsyncSession, *, device_id: str) -> bool:
    result = await session.execute(
        delete(MqttCredential).where(MqttCredential.device_id == device_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
