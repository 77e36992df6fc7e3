"""The dashboard's repository queries -- bookings by start time, price-book history -- agree
on the in-memory doubles, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lily_core.domain.pagination import Cursor
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.domain.records import BookingStatus
from tests.contract import dashboard_backends
from tests.contract.dashboard_backends import Backend
from tests.unit.dashboard_world import (
    booking,
    lead,
    tenant,
)
from tests.unit.test_tenant_use_cases import EXAMPLE

# the fixtures, on the in-memory doubles, SQLite and PostgreSQL
backend = dashboard_backends.backend
sqlite_engine = dashboard_backends.sqlite_engine
postgres_engine = dashboard_backends.postgres_engine

T0 = datetime(2026, 6, 1, 15, 0, 0, 250_000, tzinfo=UTC)


def test_bookings_by_start_filter_and_page_alike(backend: Backend) -> None:
    acme, other = tenant(), tenant()
    jane, stranger = lead(acme), lead(other)
    same = [booking(acme, jane, T0) for _ in range(3)]
    later = booking(acme, jane, T0 + timedelta(days=1), status=BookingStatus.CANCELLED)
    earlier = booking(acme, jane, T0 - timedelta(microseconds=1))
    backend.save(acme, other, jane, stranger, *same, later, earlier, booking(other, stranger, T0))
    expected = [earlier, *sorted(same, key=lambda b: b.id), later]

    uow = backend.uow()
    with uow.across_tenants():
        pages, cursor = [], None
        while True:
            after = Cursor.decode(cursor) if cursor else None
            page = uow.bookings.list_by_start(acme.id, limit=2, after=after)
            pages.append([b.id for b in page.items])
            if not (cursor := page.next_cursor):
                break
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [i for p in pages for i in p] == [b.id for b in expected]

        def ids(**kw: Any) -> list[str]:
            return [b.id for b in uow.bookings.list_by_start(acme.id, **kw).items]

        assert ids(start_from=T0) == [b.id for b in expected[1:]]
        assert ids(start_before=T0) == [earlier.id]
        assert ids(start_from=T0, start_before=T0 + timedelta(days=1)) == [
            b.id for b in expected[1:4]
        ]
        assert ids(status=BookingStatus.CANCELLED) == [later.id]
        assert ids(lead_id=jane.id, start_from=T0) == [b.id for b in expected[1:]]
        assert ids(lead_id=stranger.id) == []  # another tenant's lead: nothing here
        assert uow.bookings.list_by_start(other.id).items[0].lead_id == stranger.id


def test_price_book_history_is_newest_first_per_tenant(backend: Backend) -> None:
    acme, other = tenant(), tenant()
    versions = [
        PriceBookVersion(
            tenant_id=acme.id, version=n, document=EXAMPLE, created_at=T0 + timedelta(hours=n)
        )
        for n in (1, 2, 3)
    ]
    mine = PriceBookVersion(tenant_id=other.id, version=1, document=EXAMPLE, created_at=T0)
    backend.save(acme, other, *versions, mine)
    uow = backend.uow()
    with uow.across_tenants():
        assert uow.pricebooks.history(acme.id) == [
            (v.version, v.created_at) for v in versions[::-1]
        ]
        assert uow.pricebooks.history(other.id) == [(1, T0)]
        assert uow.pricebooks.history(tenant().id) == []
