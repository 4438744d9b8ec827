"""Who is calling: a logged-in user or an API key, and the role it acts with.

Routes get a `Principal` from the dependencies in api.core.deps (`CurrentUser`, `ViewerUser`,
...). It is a plain value, not an ORM row, so a route cannot accidentally change the
account through it, and an API key can stand where a user stood: it has a role, a name to
log and a key to count its requests under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from api.core.auth import TokenClaims
from store.access.users import Role
from store.models import ApiKey, User


class PrincipalKind(StrEnum):
    USER = "user"  # logged in; authenticated by a bearer JWT
    API_KEY = "api_key"  # authenticated by X-API-Key


@dataclass(frozen=True, kw_only=True)
class Principal:
    kind: PrincipalKind
    id: int  # users.id or api_keys.id, depending on `kind`
    username: str  # the user's name, or "api-key:<key_id>": unique and safe to log
    role: str
    token: TokenClaims | None = None  # the JWT this request carried (users only)
    expires_at: datetime | None = None  # of the token or the key; None: never

    @property
    def user_id(self) -> int | None:
        """The account behind the request; None for an API key (it belongs to nobody)."""
        return self.id if self.kind is PrincipalKind.USER else None

    @property
    def role_level(self) -> Role | None:
        try:
            return Role(self.role)
        except ValueError:  # a role this version does not know grants nothing
            return None

    @property
    def rate_limit_key(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def for_user(cls, user: User, *, token: TokenClaims) -> Principal:
        return cls(
            kind=PrincipalKind.USER,
            id=user.id,
            username=user.username,
            role=user.role,  # the stored role, not the one in the token
            token=token,
            expires_at=token.expires_at,
        )

    @classmethod
    def for_api_key(cls, key: ApiKey) -> Principal:
        return cls(
            kind=PrincipalKind.API_KEY,
            id=key.id,
            username=f"api-key:{key.key_id}",
            role=key.role,
            expires_at=key.expires_at,
        )
