"""What the audit log costs an authenticated request: GET /api/auth/me with a login token,
through the real app, beside the same app with `AuditMiddleware` left out (no slot, so
nothing is noted or written: the bare baseline).

`python -m bench.audit_overhead [--requests 1000] [--rounds 3]` migrates a SQLite store in
a temporary directory, creates an admin, and drives both apps in-process over httpx's
ASGI transport, alternating rounds so machine noise falls on both alike. The token is used
from the first request on, so its one `token_used` row is written once and every later
request is the hot path. Prints one JSON line with the rates, their ratio and the audit
rows written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from api.core.audit import AuditMiddleware
from api.core.auth import issue_token
from api.main import create_app
from store.access.users import Role, create_user
from store.db import create_engine, session_factory
from store.migrate import upgrade_async
from store.models import AuditRow
from store.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _seed(settings: Settings) -> str:
    await upgrade_async(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            user = await create_user(
                session, username="bench-admin", password=secrets.token_urlsafe(16), role=Role.ADMIN
            )
        return issue_token(settings=settings, user=user).token
    finally:
        await engine.dispose()


async def _rows(settings: Settings) -> int:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count(AuditRow.id))) or 0)
    finally:
        await engine.dispose()


async def _round(app: FastAPI, token: str, requests: int) -> float:
    """Seconds for `requests` sequential authenticated reads."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for _ in range(requests):
            answer = await client.get("/api/auth/me", headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"unexpected {answer.status_code}: {answer.text}")
        return time.perf_counter() - started


async def main(*, requests: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="edgewright-bench-audit-") as tmp:
        settings = Settings.model_validate(
            {
                "data_dir": Path(tmp),
                "database_url": f"sqlite+aiosqlite:///{Path(tmp) / 'edgewright.db'}",
                "secret_key": secrets.token_urlsafe(48),
                "temporal_address": f"127.0.0.1:{_closed_port()}",
                "rate_limit_per_minute": 100_000,
            }
        )
        token = await _seed(settings)
        audited = create_app(settings)
        bare = create_app(settings)
        # Left out before the middleware stack is built (at the first request).
        bare.user_middleware = [
            m for m in bare.user_middleware if getattr(m, "cls", None) is not AuditMiddleware
        ]
        seconds = {"audited": 0.0, "bare": 0.0}
        async with (
            audited.router.lifespan_context(audited),
            bare.router.lifespan_context(bare),
        ):
            await _round(audited, token, 10)  # warm-up; writes the token's one token_used
            await _round(bare, token, 10)
            for _ in range(rounds):
                seconds["audited"] += await _round(audited, token, requests)
                seconds["bare"] += await _round(bare, token, requests)
        total = requests * rounds
        audited_rps = total / seconds["audited"]
        bare_rps = total / seconds["bare"]
        return {
            "bench": "audit_overhead",
            "requests_per_app": total,
            "audited_rps": round(audited_rps, 1),
            "bare_rps": round(bare_rps, 1),
            "ratio_audited_to_bare": round(audited_rps / bare_rps, 3),
            "audit_rows_written": await _rows(settings),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(requests=args.requests, rounds=args.rounds))))
