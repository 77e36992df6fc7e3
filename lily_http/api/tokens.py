"""Signing in. `POST /api/v1/auth/token`: a bearer token for scripts and integrations.
`POST`/`DELETE /api/v1/auth/session`: the web dashboard's session, kept in an httpOnly
cookie that a script in the page cannot read (see `lily_http.api.auth`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lily_core.use_cases.sign_in import IssuedToken
from lily_http.api.auth import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(tags=["auth"])


class Credentials(BaseModel):
    email: str = Field(max_length=254)
    # Long enough for any passphrase; bounded so a request cannot make hashing costly.
    password: str = Field(max_length=1024)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires")


class Session(BaseModel):
    expires_in: int = Field(description="Seconds until the session expires")
    csrf_token: str = Field(
        description="Send as `X-CSRF-Token` with every write; also in the `lily_csrf` cookie"
    )


async def _sign_in(body: Credentials, request: Request, container: ContainerDep) -> IssuedToken:
    # The peer's address, not X-Forwarded-For: a client can write that header itself.
    client = request.client.host if request.client else None
    return await run_in_threadpool(container.sign_in(), body.email, body.password, client)


@router.post(
    "/auth/token",
    operation_id="createToken",
    responses=error_responses(400, 401, 422, 429),
)
async def create_token(body: Credentials, request: Request, container: ContainerDep) -> Token:
    """Sign in: a user token to send as `Authorization: Bearer <token>`. A wrong email and a
    wrong password answer the same 401; repeated failures for one email or one client
    address answer 429 for a while, with `Retry-After`."""
    issued = await _sign_in(body, request, container)
    return Token(
        access_token=issued.access_token, token_type="bearer", expires_in=issued.expires_in
    )


@router.post(
    "/auth/session",
    operation_id="createSession",
    responses=error_responses(400, 401, 422, 429),
)
async def create_session(
    body: Credentials, request: Request, response: Response, container: ContainerDep
) -> Session:
    """Sign in the web dashboard: the user token goes into the httpOnly `lily_session`
    cookie, never into the page; the CSRF token comes back and in the `lily_csrf` cookie.
    Failures answer as `createToken` does."""
    issued = await _sign_in(body, request, container)
    csrf = csrf_token_for(issued.access_token)
    secure = request.url.scheme == "https"
    for name, value, http_only in (
        (SESSION_COOKIE, issued.access_token, True),
        (CSRF_COOKIE, csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=issued.expires_in,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )
    response.headers["Cache-Control"] = "no-store"
    return Session(expires_in=issued.expires_in, csrf_token=csrf)


@router.delete("/auth/session", operation_id="deleteSession", status_code=204)
async def delete_session(request: Request) -> Response:
    """Sign out of the web dashboard: both cookies are cleared. Needs no session, so that
    signing out always works."""
    response = Response(status_code=204)
    secure = request.url.scheme == "https"
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="strict")
    return response
