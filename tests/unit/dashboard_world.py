"""Entities for the dashboard use cases' unit tests: two tenants and what their customers did,
saved into an InMemoryDatabase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lily_core.domain.leads import Call, Direction, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.principal import Principal, Role
from lily_core.domain.records import Booking, Quote
from lily_core.domain.tenant import Tenant
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork

T0 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
_numbers = iter(range(100, 10**6))


def tenant(**kw: Any) -> Tenant:
    n = next(_numbers)
    fields: dict[str, Any] = {
        "name": f"Acme {n}",
        "slug": f"acme-{n}",
        "phone": f"+1214555{n:04d}",
        "timezone": "America/Chicago",
        "created_at": T0,
    }
    return Tenant(**(fields | kw))


def owner(t: Tenant) -> Principal:
    return Principal(tenant=t, role=Role.OWNER)


def operator(t: Tenant) -> Principal:
    return Principal(tenant=t, role=Role.OPERATOR)


def lead(t: Tenant, at: datetime = T0, **kw: Any) -> Lead:
    return Lead(tenant_id=t.id, phone=f"+1469555{next(_numbers):04d}", created_at=at, **kw)


def quote(t: Tenant, le: Lead, at: datetime = T0, **kw: Any) -> Quote:
    fields: dict[str, Any] = {
        "zip": "75201",
        "in_service_area": True,
        "low_cents": 25000,
        "high_cents": 45000,
        "currency": "USD",
        "lines": [
            {"kind": "service", "key": "house_wash", "label": "House wash: $250–$450"}
            | {"low_cents": 25000, "high_cents": 45000}
        ],
        "explanation": "House wash: $250–$450\nTotal: $250–$450",
        "pricebook_version": 1,
    }
    return Quote(tenant_id=t.id, lead_id=le.id, created_at=at, **(fields | kw))


def booking(t: Tenant, le: Lead, start: datetime, at: datetime = T0, **kw: Any) -> Booking:
    return Booking(
        tenant_id=t.id,
        lead_id=le.id,
        calcom_uid=f"uid-{next(_numbers)}",
        title="Estimate",
        start_at=start,
        end_at=start + timedelta(hours=1),
        created_at=at,
        updated_at=at,
        **kw,
    )


def missed_call(t: Tenant, le: Lead, at: datetime, *, texted_back: bool = True) -> Call:
    return Call(
        tenant_id=t.id,
        lead_id=le.id,
        call_sid=f"CA{next(_numbers)}",
        from_phone=le.phone or "",
        status="no-answer",
        missed=True,
        texted_back=texted_back,
        created_at=at,
        updated_at=at,
    )


def text_back(t: Tenant, le: Lead, at: datetime, sent_after: float | None) -> Message:
    """The missed-call text created at `at` (with its call), sent `sent_after` s later."""
    return Message(
        tenant_id=t.id,
        lead_id=le.id,
        direction=Direction.OUTBOUND,
        kind=MessageKind.MISSED_CALL,
        body="Sorry we missed your call!",
        status=MessageStatus.QUEUED if sent_after is None else MessageStatus.SENT,
        created_at=at,
        updated_at=at,
        sent_at=None if sent_after is None else at + timedelta(seconds=sent_after),
    )


def save(db: InMemoryDatabase, *entities: Any) -> None:
    uow = InMemoryUnitOfWork(db)
    repos = {
        Tenant: uow.tenants,
        Lead: uow.leads,
        Quote: uow.quotes,
        Booking: uow.bookings,
        Call: uow.calls,
        Message: uow.messages,
    }
    with uow.across_tenants():
        for entity in entities:
            repos[type(entity)].add(entity)  # type: ignore[attr-defined]
        uow.commit()
