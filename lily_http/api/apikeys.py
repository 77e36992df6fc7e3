"""`/api/v1/apikeys`: an owner lists, makes and revokes the tenant's API keys."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from lily_core.domain.records import ApiKey
from lily_core.use_cases.access import API_KEY_NAME_MAX
from lily_http.api.auth import OwnerCaller
from lily_http.api.errors import error_responses
from lily_http.api.pagination import Paged
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/apikeys", tags=["api keys"])


class ApiKeyItem(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The token's first characters, to tell keys apart")
    created_at: datetime


class NewApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=API_KEY_NAME_MAX)


class CreatedApiKey(ApiKeyItem):
    token: str = Field(description="The key itself; shown this once, never again")


def _out(key: ApiKey) -> ApiKeyItem:
    return ApiKeyItem(id=key.id, name=key.name, prefix=key.prefix, created_at=key.created_at)


@router.get("", operation_id="listApiKeys", responses=error_responses(401, 403))
async def list_api_keys(caller: OwnerCaller, container: ContainerDep) -> Paged[ApiKeyItem]:
    """The tenant's API keys that are not revoked, newest first, in one page (`next_cursor`
    is always null: a tenant has a handful)."""
    keys = await run_in_threadpool(container.list_api_keys(), caller)
    return Paged[ApiKeyItem](items=[_out(key) for key in keys], next_cursor=None)


@router.post(
    "",
    status_code=201,
    operation_id="createApiKey",
    responses=error_responses(400, 401, 403, 422),
)
async def create_api_key(
    body: NewApiKey, caller: OwnerCaller, container: ContainerDep
) -> CreatedApiKey:
    """A new API key; its `token` is in this answer only."""
    key, token = await run_in_threadpool(container.create_api_key(), caller.tenant.slug, body.name)
    return CreatedApiKey(**_out(key).model_dump(), token=token)


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    operation_id="revokeApiKey",
    responses=error_responses(401, 403, 404),
)
async def revoke_api_key(key_id: str, caller: OwnerCaller, container: ContainerDep) -> None:
    """Revoke an API key: it stops working at once. A key of another tenant, or one
    already revoked, is 404."""
    await run_in_threadpool(container.revoke_api_key(), key_id, tenant_id=caller.tenant.id)
