"""Bearer authentication of the dashboard API: every route takes its caller (and so its
tenant) from here. A tenant API key (`lily_...`) or a user token from
`POST /api/v1/auth/token`; anything else is 401."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from lily_core.domain.principal import Principal
from lily_core.errors import Unauthenticated
from lily_core.use_cases.access import API_KEY_PREFIX
from lily_http.deps import ContainerDep

__all__ = ["Caller", "OwnerCaller", "current_principal"]

_bearer = HTTPBearer(auto_error=False, description="A tenant API key or a user token")


async def current_principal(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the `Authorization: Bearer` header; Unauthenticated (401) if none."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("a bearer token is required")
    token = credentials.credentials
    if token.startswith(API_KEY_PREFIX):
        return await run_in_threadpool(container.authenticate_api_key(), token)
    return await run_in_threadpool(container.authenticate_user_token(), token)


async def current_owner(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The caller, who must be an owner (403 otherwise)."""
    principal.require_owner()
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
OwnerCaller = Annotated[Principal, Depends(current_owner)]
