"""Authentication of the dashboard API: every route takes its caller (and so its tenant)
from here. A tenant API key (`lily_...`) or a user token from `POST /api/v1/auth/token`,
sent as `Authorization: Bearer`; or, for the web dashboard, the user token in the httpOnly
session cookie that `POST /api/v1/auth/session` sets, where a script in the page cannot
read it. Anything else is 401.

A browser sends the cookie with requests that other sites' pages make too, so a write
(POST, PUT, PATCH, DELETE) authenticated by the cookie must also carry `X-CSRF-Token`: a
value derived from the session token, which the dashboard reads from the (script-readable)
`lily_csrf` cookie and which another site can neither read nor compute."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from lily_core.domain.principal import Principal
from lily_core.errors import Unauthenticated
from lily_core.use_cases.access import API_KEY_PREFIX
from lily_http.api.errors import CsrfRejected
from lily_http.deps import ContainerDep

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Caller",
    "OwnerCaller",
    "csrf_token_for",
    "current_principal",
]

SESSION_COOKIE = "lily_session"
CSRF_COOKIE = "lily_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="A tenant API key or a user token")
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description=(
        "The web dashboard's session, set by POST /api/v1/auth/session; writes need the "
        f"{CSRF_HEADER} header too"
    ),
)


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that goes with a session token: a hash of it, so the server keeps no
    state, and nobody who cannot read the httpOnly session cookie can compute it."""
    digest = hashlib.sha256(b"lily-csrf\0" + session_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def current_principal(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_session)],
) -> Principal:
    """The caller behind the bearer token or, failing that, the session cookie;
    Unauthenticated (401) if neither, CsrfRejected (403) for a cookie-signed write without
    its CSRF token."""
    if credentials is not None and credentials.credentials:
        token = credentials.credentials
        if token.startswith(API_KEY_PREFIX):
            return await run_in_threadpool(container.authenticate_api_key(), token)
        return await run_in_threadpool(container.authenticate_user_token(), token)
    if not session:
        raise Unauthenticated("a bearer token or a session cookie is required")
    principal = await run_in_threadpool(container.authenticate_user_token(), session)
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf_token_for(session).encode()):
            raise CsrfRejected(f"a write signed in by cookie needs the {CSRF_HEADER} header")
    return principal


async def current_owner(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The caller, who must be an owner (403 otherwise)."""
    principal.require_owner()
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
OwnerCaller = Annotated[Principal, Depends(current_owner)]
