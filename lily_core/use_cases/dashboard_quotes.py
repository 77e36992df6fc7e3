"""The quotes Lily sent, as the dashboard lists them (DESIGN §4.2 `/api/v1/quotes`)."""

from __future__ import annotations

from lily_core.domain.pagination import Cursor, Page
from lily_core.domain.principal import Principal
from lily_core.domain.records import Quote
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.scoping import find_in_tenant, is_entity_id

__all__ = ["GetQuote", "ListQuotes"]


class ListQuotes:
    """The caller's tenant's quotes, newest first, all or one lead's (a lead of another
    tenant, or no lead at all, has none)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(
        self,
        principal: Principal,
        *,
        lead_id: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Quote]:
        if lead_id is not None and not is_entity_id(lead_id):
            return Page([], None)
        with self.uow.for_tenant(principal.tenant.id):
            return self.uow.quotes.list(
                principal.tenant.id, lead_id=lead_id, limit=limit, after=after
            )


class GetQuote:
    """One quote of the caller's tenant; NotFound otherwise."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, principal: Principal, quote_id: str) -> Quote:
        with self.uow.for_tenant(principal.tenant.id):
            return find_in_tenant(self.uow.quotes.get, principal.tenant.id, quote_id, "quote")
