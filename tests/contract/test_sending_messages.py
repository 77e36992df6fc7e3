"""The repositories' queries for interrupted work (issue 13), on the fake, SQLite and
PostgreSQL (row-level security on): SENDING messages past a time, inbound messages of a
window (photos to copy) and bookings ahead of their calendar, across tenants, for the
reconciler; FAILED messages with an error code, counted across tenants, for
`lily queue stats`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lily_core.domain.ids import new_id
from lily_core.domain.leads import Direction, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.records import Booking
from lily_core.domain.tenant import Tenant
from lily_core.ports.repositories import UnitOfWork
from tests.contract.dashboard_backends import postgres_engine, sqlite_engine
from tests.contract.test_unit_of_work import (
    T0,
    _save,
    booking,
    lead,
    make_uow,
    message,
    tenant,
    uow,
)

UowFactory = Callable[[], UnitOfWork]
__all__ = ["make_uow", "postgres_engine", "sqlite_engine", "uow"]  # shared fixtures


def test_list_sending_finds_stuck_sends_of_every_tenant_oldest_first(uow: UnitOfWork) -> None:
    a, b = tenant(), tenant()
    la, lb = lead(a), lead(b)

    def sending(t: Tenant, le: Lead, minutes: int, **kw: Any) -> Message:
        fields: dict[str, Any] = dict(status=MessageStatus.SENDING, provider_sid=None)
        fields.update(kw)
        return message(t, le, updated_at=T0 + timedelta(minutes=minutes), **fields)

    old_b = sending(b, lb, 1)
    old_a = sending(a, la, 2)
    recent = sending(a, la, 10)
    sent = sending(a, la, 0, status=MessageStatus.SENT)
    inbound = sending(a, la, 0, direction=Direction.INBOUND, kind=MessageKind.INBOUND)
    _save(uow, a, b, la, lb, old_b, old_a, recent, sent, inbound)

    with uow.across_tenants():
        found = uow.messages.list_sending(updated_before=T0 + timedelta(minutes=5))
    mine = [m.id for m in found if m.tenant_id in (a.id, b.id)]
    assert mine == [old_b.id, old_a.id]


def test_count_failed_counts_one_error_code_of_every_tenant(uow: UnitOfWork) -> None:
    a, b = tenant(), tenant()
    la, lb = lead(a), lead(b)
    code, other = f"x{new_id()[:12]}", f"y{new_id()[:12]}"  # the database is shared

    def failed(t: Tenant, le: Lead, error: str) -> Message:
        return message(t, le, status=MessageStatus.FAILED, error_code=error, provider_sid=None)

    _save(
        uow, a, b, la, lb,
        failed(a, la, code), failed(a, la, code), failed(a, la, other), failed(b, lb, code),
        message(a, la, error_code=code, provider_sid=None),  # delivered after all: not counted
    )  # fmt: skip

    with uow.across_tenants():
        assert uow.messages.count_failed(code) == 3
        assert uow.messages.count_failed(other) == 1
        assert uow.messages.count_failed(f"z{new_id()[:12]}") == 0


def test_list_received_finds_inbound_messages_of_a_window_newest_first(uow: UnitOfWork) -> None:
    a, b = tenant(), tenant()
    la, lb = lead(a), lead(b)

    def received(t: Tenant, le: Lead, minutes: int, **kw: Any) -> Message:
        fields: dict[str, Any] = dict(
            direction=Direction.INBOUND, kind=MessageKind.INBOUND, status=MessageStatus.RECEIVED
        )
        fields.update(kw)
        return message(t, le, created_at=T0 + timedelta(minutes=minutes), **fields)

    first_a = received(a, la, 1)
    then_b = received(b, lb, 2)
    too_old = received(a, la, -5)
    too_new = received(b, lb, 10)
    outbound = received(a, la, 3, direction=Direction.OUTBOUND, kind=MessageKind.QUOTE)
    _save(uow, a, b, la, lb, first_a, then_b, too_old, too_new, outbound)

    with uow.across_tenants():
        found = uow.messages.list_received(
            created_after=T0, created_before=T0 + timedelta(minutes=5)
        )
    mine = [m.id for m in found if m.tenant_id in (a.id, b.id)]
    assert mine == [then_b.id, first_a.id]
    assert found[[m.id for m in found].index(first_a.id)].media == first_a.media  # decrypted


def test_list_calendar_behind_finds_bookings_ahead_of_their_calendar(uow: UnitOfWork) -> None:
    a, b = tenant(), tenant()
    la, lb = lead(a), lead(b)

    def changed(t: Tenant, le: Lead, minutes: int, synced: int | None) -> Booking:
        at = T0 + timedelta(minutes=minutes)
        return booking(
            t, le, updated_at=at,
            calendar_synced_at=None if synced is None else T0 + timedelta(minutes=synced),
        )  # fmt: skip

    never_a = changed(a, la, 1, None)
    behind_b = changed(b, lb, 2, 1)
    taken = changed(a, la, 3, 3)
    too_new = changed(b, lb, 10, None)
    too_old = changed(a, la, -5, None)
    _save(uow, a, b, la, lb, never_a, behind_b, taken, too_new, too_old)

    with uow.across_tenants():
        found = uow.bookings.list_calendar_behind(
            updated_after=T0, updated_before=T0 + timedelta(minutes=5)
        )
    mine = [x.id for x in found if x.tenant_id in (a.id, b.id)]
    assert mine == [never_a.id, behind_b.id]
