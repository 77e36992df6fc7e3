from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from loguru import logger
from starlette.concurrency import run_in_threadpool

from lily_adapters.container import Container
from lily_core.domain.tenant import Tenant, require_slug
from lily_core.errors import InvalidInput

if TYPE_CHECKING:
    from loguru import Logger

# An error message may quote what was sent: it is cut short in the answer and the log.
_MESSAGE_MAX = 300


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def get_request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


ContainerDep = Annotated[Container, Depends(get_container)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]


async def find_tenant(
    container: Container, *, slug: str | None = None, phone: str | None = None
) -> Tenant:
    """The tenant with this slug or business number, from the tenant cache or else read off
    the event loop; 404 if none (a slug that cannot be one is not looked up). Webhooks call
    this first: the tenant's secret is what checks the signature."""
    tenant = None
    if _plausible(slug) and (slug is not None or phone):
        tenants = container.tenant_cache()
        cached, tenant = tenants.peek(phone=phone, slug=slug)
        if not cached:
            tenant = await run_in_threadpool(lambda: tenants.get(phone=phone, slug=slug))
    if tenant is None:
        logger.bind(slug=slug and slug[:80], phone=phone).warning("webhook: no such tenant")
        raise HTTPException(404, "no such tenant")
    return tenant


def _plausible(slug: str | None) -> bool:
    try:
        return slug is None or bool(require_slug(slug))
    except InvalidInput:
        return False


def rejected(log: Logger, what: str, exc: InvalidInput, status: int = 400) -> HTTPException:
    """Log one line saying why a request is refused (`what`, the field, the reason) and
    return the HTTPException to raise for it."""
    message = str(exc)[:_MESSAGE_MAX]
    log.bind(field=exc.field, error=message).warning(what)
    return HTTPException(status, message)
