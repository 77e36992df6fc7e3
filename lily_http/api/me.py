"""`GET /api/v1/me`: who the token belongs to."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses

router = APIRouter(tags=["account"])


class TenantRef(BaseModel):
    id: str
    slug: str
    name: str


class UserRef(BaseModel):
    email: str
    role: str


class ApiKeyRef(BaseModel):
    id: str
    name: str


class Me(BaseModel):
    tenant: TenantRef
    user: UserRef | None
    api_key: ApiKeyRef | None


@router.get("/me", operation_id="getMe", responses=error_responses(401))
async def me(caller: Caller) -> Me:
    """The caller's tenant, and the user or API key the token belongs to."""
    tenant, user, key = caller.tenant, caller.user, caller.api_key
    return Me(
        tenant=TenantRef(id=tenant.id, slug=tenant.slug, name=tenant.name),
        user=UserRef(email=user.email, role=user.role) if user else None,
        api_key=ApiKeyRef(id=key.id, name=key.name) if key else None,
    )
