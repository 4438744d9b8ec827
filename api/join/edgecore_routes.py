"""`POST /api/kubeedge/token/validate`: edgecore presents its join token before joining.

Stock CloudCore checks a join token's signature and expiry only; our tokens are also per
node, single use and revocable, and this endpoint is where those rules are enforced for
an edgecore that asks (the sandbox's simulated edgecore always does). The token is its
own credential: `Authorization: Bearer <join token>`, no user or API key. A token that is
unknown, expired, revoked, already used or presented for another node is a 401 whose
`details.reason` says which.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from api.core.deps import SessionDep
from api.core.errors import ApiError
from api.core.route_facts import may_answer
from store.devices import tokens
from workflows.contracts.common import NodeName

router = APIRouter(prefix="/api/kubeedge", tags=["edgecore"])

_join_token = HTTPBearer(
    scheme_name="JoinToken",
    auto_error=False,
    description="The node's KubeEdge join token (from the keadm join line)",
)
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@may_answer(401)
async def _presented_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_join_token)],
) -> str:
    if credentials is None:
        raise ApiError(401, "Missing join token", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


class TokenValidation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_name: NodeName | None = None


class TokenValid(BaseModel):
    status: str = "success"
    valid: bool = True
    node_name: str
    device_id: str | None
    expires_at: datetime


def _refuse(reason: str, message: str) -> ApiError:
    return ApiError(401, message, details={"reason": reason}, headers=_INVALID)


@router.post("/token/validate", response_model=TokenValid)
async def validate_join_token(
    token: Annotated[str, Depends(_presented_token)],
    session: SessionDep,
    body: TokenValidation | None = None,
) -> TokenValid:
    row = await tokens.find_by_token(session, token=token)
    if row is None:
        raise _refuse("unknown", "This join token was not issued here")
    status = tokens.token_status(row, now=datetime.now(UTC))
    if status is not tokens.TokenStatus.ACTIVE:
        raise _refuse(status.value, f"This join token is {status.value}")
    if body is not None and body.node_name is not None and body.node_name != row.node_name:
        raise _refuse("wrong_node", "This join token was issued for another node")
    return TokenValid(node_name=row.node_name, device_id=row.device_id, expires_at=row.expires_at)
