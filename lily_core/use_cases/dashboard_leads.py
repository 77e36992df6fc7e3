"""The dashboard's leads (DESIGN §4.2): list, read, change, and mark a conversation read.

Every use case takes the caller's tenant id (from the Principal, never from the request)
and answers NotFound for a lead of another tenant, exactly as for a missing one."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from lily_core.domain.geo import require_zip
from lily_core.domain.lead_search import LeadSearch
from lily_core.domain.leads import EMAIL_MAX, NAME_MAX, Lead, LeadStatus
from lily_core.domain.pagination import PAGE_MAX, Cursor, Page
from lily_core.domain.sanitize import clean_text
from lily_core.errors import InvalidInput, NotFound
from lily_core.ports.clock import Clock
from lily_core.ports.repositories import UnitOfWork

__all__ = [
    "UPDATABLE_LEAD_FIELDS",
    "GetLead",
    "ListLeads",
    "MarkLeadRead",
    "UpdateLead",
    "is_unread",
    "lead_status",
]

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_unread(lead: Lead) -> bool:
    """Whether the lead wrote since the owner last read the conversation."""
    inbound, read = lead.last_inbound_at, lead.last_read_at
    return inbound is not None and (read is None or inbound > read)


def lead_status(raw: LeadStatus | str, field: str = "status") -> LeadStatus:
    """`raw` as a LeadStatus; InvalidInput naming `field` if it is none of them."""
    try:
        return LeadStatus(raw)
    except ValueError:
        allowed = ", ".join(LeadStatus)
        raise InvalidInput(f"{raw!r} is not a lead status ({allowed})", field=field) from None


def find_lead(uow: UnitOfWork, tenant_id: str, lead_id: str) -> Lead:
    """The tenant's lead with this id; NotFound if there is none (in this tenant)."""
    # Ids are letters and digits: anything else names no lead, and is not worth a query
    # (PostgreSQL refuses a NUL in text outright).
    lead = uow.leads.get(tenant_id, lead_id) if lead_id.isascii() and lead_id.isalnum() else None
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    return lead


class ListLeads:
    """A page of the tenant's leads, newest activity first, filtered by status, opt-out
    and search (LeadSearch: name, email or phone digits)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(
        self,
        tenant_id: str,
        *,
        status: LeadStatus | str | None = None,
        search: str | None = None,
        opted_out: bool | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Lead]:
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"must be between 1 and {PAGE_MAX}", field="limit")
        with self.uow.for_tenant(tenant_id):
            return self.uow.leads.list_by_activity(
                tenant_id,
                status=lead_status(status) if status is not None else None,
                search=LeadSearch.parse(search),
                opted_out=opted_out,
                limit=limit,
                after=after,
            )


class GetLead:
    """One lead of the tenant."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, tenant_id: str, lead_id: str) -> Lead:
        with self.uow.for_tenant(tenant_id):
            return find_lead(self.uow, tenant_id, lead_id)


def _text(limit: int) -> Callable[[Any, str], str | None]:
    def convert(raw: Any, field: str) -> str | None:
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise InvalidInput("must be a string or null", field=field)
        text = clean_text(raw).strip()
        if len(text) > limit:
            raise InvalidInput(f"is longer than {limit} characters", field=field)
        return text or None  # blank clears it

    return convert


def _email(raw: Any, field: str) -> str | None:
    email = _text(EMAIL_MAX)(raw, field)
    if email is not None and not _EMAIL_RE.match(email):
        raise InvalidInput(f"{email!r} is not an email address", field=field)
    return email.lower() if email else None


def _zip(raw: Any, field: str) -> str | None:
    text = _text(10)(raw, field)
    return require_zip(text, field=field) if text else None


def _status(raw: Any, field: str) -> LeadStatus:
    if not isinstance(raw, str):
        raise InvalidInput("must be a lead status", field=field)
    return lead_status(raw, field)


def _flag(raw: Any, field: str) -> bool:
    if not isinstance(raw, bool):
        raise InvalidInput("must be true or false", field=field)
    return raw


# field -> how a JSON value becomes the lead's (raising InvalidInput naming the field)
_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "name": _text(NAME_MAX),
    "email": _email,
    "zip": _zip,
    "status": _status,
    "automations_paused": _flag,
}
UPDATABLE_LEAD_FIELDS = frozenset(_FIELDS)


class UpdateLead:
    """Change some of a lead's fields (name, email, zip, status, automations_paused), given
    as JSON values; every value is checked before anything is written. Null or blank
    clears name, email and zip. Pausing automations holds Lily's automated texts to this
    lead (SendMessage marks them HELD when their time comes); the owner's manual replies
    still go. Resuming does not release what was held: it would arrive out of date."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, tenant_id: str, lead_id: str, changes: Mapping[str, Any]) -> Lead:
        unknown = sorted(set(changes) - UPDATABLE_LEAD_FIELDS)
        if unknown:
            raise InvalidInput("is not a field of a lead that can be changed", field=unknown[0])
        values = {name: _FIELDS[name](raw, name) for name, raw in changes.items()}
        with self.uow.for_tenant(tenant_id):
            lead = find_lead(self.uow, tenant_id, lead_id)
            for name, value in values.items():
                setattr(lead, name, value)
            self.uow.commit()
        return lead


class MarkLeadRead:
    """The owner has read the lead's conversation: it is no longer unread (until the lead
    writes again)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, tenant_id: str, lead_id: str) -> Lead:
        with self.uow.for_tenant(tenant_id):
            lead = find_lead(self.uow, tenant_id, lead_id)
            lead.last_read_at = self.clock.now()
            self.uow.commit()
        return lead
