"""`POST /api/v1/auth/token`: a user signs in with email and password for a bearer token."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

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


@router.post(
    "/auth/token",
    operation_id="createToken",
    responses=error_responses(400, 401, 422, 429),
)
async def create_token(body: Credentials, request: Request, container: ContainerDep) -> Token:
    """Sign in: a user token to send as `Authorization: Bearer <token>`. A wrong email and a
    wrong password answer the same 401; repeated failures for one email or one client
    address answer 429 for a while, with `Retry-After`."""
    # The peer's address, not X-Forwarded-For: a client can write that header itself.
    client = request.client.host if request.client else None
    issued = await run_in_threadpool(container.sign_in(), body.email, body.password, client)
    return Token(
        access_token=issued.access_token, token_type="bearer", expires_in=issued.expires_in
    )
