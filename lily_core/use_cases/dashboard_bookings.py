"""The bookings of a tenant, as the dashboard lists them (DESIGN §4.2 `/api/v1/bookings`)."""

from __future__ import annotations

from datetime import UTC, datetime

from lily_core.domain.pagination import Cursor, Page
from lily_core.domain.principal import Principal
from lily_core.domain.records import Booking, BookingStatus
from lily_core.errors import InvalidInput
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.scoping import find_in_tenant, is_entity_id

__all__ = ["GetBooking", "ListBookings"]


def _utc(value: datetime | None, field: str) -> datetime | None:
    """`value` in UTC; a time without a zone is taken to be UTC (DESIGN §4.2)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is before the first UTC instant
        raise InvalidInput("is out of range", field=field) from None


class ListBookings:
    """The caller's tenant's bookings, soonest start first, optionally only those with
    `status`, of `lead_id`, and starting in [start_from, start_before) (InvalidInput, field
    `to`, if the second is before the first)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(
        self,
        principal: Principal,
        *,
        status: BookingStatus | None = None,
        lead_id: str | None = None,
        start_from: datetime | None = None,
        start_before: datetime | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Booking]:
        if lead_id is not None and not is_entity_id(lead_id):
            return Page([], None)  # no lead has that id: nothing of it to list
        start_from, start_before = _utc(start_from, "from"), _utc(start_before, "to")
        if start_from and start_before and start_before < start_from:
            raise InvalidInput("must not be before `from`", field="to")
        with self.uow.for_tenant(principal.tenant.id):
            return self.uow.bookings.list_by_start(
                principal.tenant.id,
                status=status,
                lead_id=lead_id,
                start_from=start_from,
                start_before=start_before,
                limit=limit,
                after=after,
            )


class GetBooking:
    """One booking of the caller's tenant; NotFound otherwise."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def __call__(self, principal: Principal, booking_id: str) -> Booking:
        with self.uow.for_tenant(principal.tenant.id):
            return find_in_tenant(self.uow.bookings.get, principal.tenant.id, booking_id, "booking")
