from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from lily_adapters.container import Container
from lily_core.domain.tenant import Tenant


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def get_request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


ContainerDep = Annotated[Container, Depends(get_container)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]


async def find_tenant(
    container: Container, *, slug: str | None = None, phone: str | None = None
) -> Tenant:
    """The tenant with this slug or business number, read off the event loop; 404 if none.
    Webhooks call this first: the tenant's secret is what checks the signature."""

    def lookup() -> Tenant | None:
        uow = container.uow()
        with uow:
            if slug is not None:
                return uow.tenants.get_by_slug(slug)
            return uow.tenants.get_by_phone(phone) if phone else None

    tenant = await run_in_threadpool(lookup)
    if tenant is None:
        raise HTTPException(404, "no such tenant")
    return tenant
