"""The message repository's queries for interrupted sends (issue 13), on the fake, SQLite
and PostgreSQL (row-level security on): SENDING messages past a time, across tenants, for
the reconciler; FAILED messages with an error code, counted across tenants, for
`lily queue stats`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lily_core.domain.ids import new_id
from lily_core.domain.leads import Direction, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.tenant import Tenant
from lily_core.ports.repositories import UnitOfWork
from tests.contract.dashboard_backends import postgres_engine, sqlite_engine
from tests.contract.test_unit_of_work import T0, _save, lead, make_uow, message, tenant, uow

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
