"""The tenant's bookings (DESIGN §4.2): `/api/v1/bookings...`, soonest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from lily_core.domain.records import Booking, BookingStatus
from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses
from lily_http.api.pagination import CursorParam, LimitParam, Paged, cursor_from
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/bookings", tags=["bookings"])

BookingId = Annotated[str, Path(max_length=64, description="The booking's id")]


class BookingItem(BaseModel):
    id: str
    lead_id: str
    status: BookingStatus
    title: str
    start_at: datetime
    end_at: datetime
    address: str | None
    attendee_name: str | None
    calendar_event_id: str | None = Field(description="The Google Calendar event, once made")

    @classmethod
    def of(cls, booking: Booking) -> BookingItem:
        return cls(
            id=booking.id,
            lead_id=booking.lead_id,
            status=booking.status,
            title=booking.title,
            start_at=booking.start_at,
            end_at=booking.end_at,
            address=booking.address,
            attendee_name=booking.attendee_name,
            calendar_event_id=booking.calendar_event_id,
        )


@router.get("", operation_id="listBookings", responses=error_responses(401, 422))
def list_bookings(
    caller: Caller,
    container: ContainerDep,
    status: Annotated[BookingStatus | None, Query(description="Only this status")] = None,
    lead_id: Annotated[
        str | None, Query(max_length=64, description="Only this lead's bookings")
    ] = None,
    start_from: Annotated[
        datetime | None,
        Query(alias="from", description="Only those starting at or after (UTC if no zone)"),
    ] = None,
    start_before: Annotated[
        datetime | None, Query(alias="to", description="Only those starting before")
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> Paged[BookingItem]:
    """The tenant's bookings, soonest start first."""
    page = container.list_bookings()(
        caller,
        status=status,
        lead_id=lead_id,
        start_from=start_from,
        start_before=start_before,
        limit=limit,
        after=cursor_from(cursor),
    )
    return Paged(items=[BookingItem.of(b) for b in page.items], next_cursor=page.next_cursor)


@router.get("/{booking_id}", operation_id="getBooking", responses=error_responses(401, 404, 422))
def get_booking(caller: Caller, container: ContainerDep, booking_id: BookingId) -> BookingItem:
    """One booking."""
    return BookingItem.of(container.get_booking()(caller, booking_id))
