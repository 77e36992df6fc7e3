"""The dashboard's bookings, on the in-memory unit of work: soonest first, filtered, paged."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lily_core.domain.pagination import Cursor
from lily_core.domain.records import BookingStatus
from lily_core.errors import InvalidInput, NotFound
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from lily_core.use_cases.dashboard_bookings import GetBooking, ListBookings
from tests.unit.dashboard_world import T0, booking, lead, operator, owner, save, tenant


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


def test_bookings_are_listed_soonest_first_with_filters(db: InMemoryDatabase) -> None:
    acme, other = tenant(), tenant()
    jane = lead(acme)
    later = booking(acme, jane, T0 + timedelta(days=3))
    soon = booking(acme, jane, T0 + timedelta(days=1))
    gone = booking(acme, jane, T0 + timedelta(days=2), status=BookingStatus.CANCELLED)
    past = booking(acme, jane, T0 - timedelta(days=1))
    stranger = lead(other)
    save(db, acme, other, jane, stranger, later, soon, gone, past, booking(other, stranger, T0))
    list_bookings = ListBookings(InMemoryUnitOfWork(db))

    def ids(**kw: object) -> list[str]:
        return [b.id for b in list_bookings(owner(acme), **kw).items]  # type: ignore[arg-type]

    assert ids() == [past.id, soon.id, gone.id, later.id]
    assert ids(start_from=T0) == [soon.id, gone.id, later.id]
    assert ids(start_from=T0, start_before=T0 + timedelta(days=3)) == [soon.id, gone.id]
    assert ids(status=BookingStatus.CANCELLED) == [gone.id]
    # a time without a zone is UTC
    assert ids(start_from=T0.replace(tzinfo=None)) == [soon.id, gone.id, later.id]


def test_bookings_page_on_start_time_then_id(db: InMemoryDatabase) -> None:
    acme = tenant()
    jane = lead(acme)
    same_start = [booking(acme, jane, T0) for _ in range(3)]
    bookings = [*same_start, booking(acme, jane, T0 + timedelta(hours=1))]
    save(db, acme, jane, *bookings)
    list_bookings = ListBookings(InMemoryUnitOfWork(db))

    seen, cursor = [], None
    while True:
        after = Cursor.decode(cursor) if cursor else None
        page = list_bookings(owner(acme), limit=2, after=after)
        seen += [b.id for b in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == [b.id for b in sorted(bookings, key=lambda b: (b.start_at, b.id))]


def test_a_booking_range_must_not_end_before_it_starts(db: InMemoryDatabase) -> None:
    acme = tenant()
    save(db, acme)
    list_bookings = ListBookings(InMemoryUnitOfWork(db))
    with pytest.raises(InvalidInput) as caught:
        list_bookings(owner(acme), start_from=T0, start_before=T0 - timedelta(seconds=1))
    assert caught.value.field == "to"
    with pytest.raises(InvalidInput) as caught:
        list_bookings(owner(acme), start_from=datetime.fromisoformat("0001-01-01T00:00+05:00"))
    assert caught.value.field == "from"


def test_a_booking_of_another_tenant_is_not_found(db: InMemoryDatabase) -> None:
    acme, other = tenant(), tenant()
    jane = lead(acme)
    mine = booking(acme, jane, T0)
    save(db, acme, other, jane, mine)
    get_booking = GetBooking(InMemoryUnitOfWork(db))

    assert get_booking(operator(acme), mine.id).id == mine.id
    with pytest.raises(NotFound):
        get_booking(owner(other), mine.id)
