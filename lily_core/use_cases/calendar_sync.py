from __future__ import annotations

import enum
from datetime import datetime

import attrs

from lily_core.domain.booking_events import booking_description, calendar_event_id
from lily_core.domain.leads import Lead
from lily_core.domain.records import Booking, BookingStatus, Quote
from lily_core.errors import PermanentDeliveryError
from lily_core.ports.clock import Clock
from lily_core.ports.providers import Calendar, CalendarEvent
from lily_core.ports.queue import JitterQueue, Task, TaskType
from lily_core.ports.repositories import UnitOfWork


class CalendarOutcome(enum.StrEnum):
    SKIPPED = "skipped"  # no calendar configured, or nothing was ever written to delete
    UPSERTED = "upserted"
    DELETED = "deleted"


@attrs.frozen
class _Plan:
    calendar_id: str
    event_id: str
    event: CalendarEvent | None  # None: delete
    version: datetime  # the booking's updated_at this plan shows


def enqueue_calendar_sync(
    queue: JitterQueue, booking: Booking, now: datetime, *, request_id: str | None = None
) -> str | None:
    """Enqueue the CALENDAR_SYNC task of a committed booking change: one live task per
    booking state (a change made while a sync runs gets its own)."""
    return queue.enqueue(
        TaskType.CALENDAR_SYNC,
        tenant_id=booking.tenant_id,
        payload={"booking_id": booking.id},
        run_at=now,
        dedupe_key=f"calendar:{booking.id}@{booking.updated_at.isoformat()}",
        request_id=request_id,
    )


def event_summary(booking: Booking, lead: Lead | None) -> str:
    who = (lead.name or lead.phone if lead else None) or booking.attendee_name
    return f"{booking.title or 'Estimate'} — {who or booking.attendee_phone or 'customer'}"


class SyncCalendar:
    """The CALENDAR_SYNC task handler (payload `booking_id`): make the tenant's Google
    Calendar show the booking as it is now — upserted while live, deleted once cancelled.

    The event id is derived from the booking's uid and stored on the booking before the
    first write, then reused, so a retried or repeated sync never creates a second event.
    No calendar adapter, or a tenant without `google_calendar_id`: nothing to do. Calendar
    errors propagate for the worker to retry (transient) or dead-letter (permanent).

    Once the calendar has taken the booking's state (or refused it for good), the booking's
    `calendar_synced_at` records which (its `updated_at`), so the reconciler knows which
    bookings still owe a sync whose task was lost."""

    def __init__(
        self, uow: UnitOfWork, calendar: Calendar | None, clock: Clock, public_url: str
    ) -> None:
        self.uow, self.calendar, self.clock = uow, calendar, clock
        self.public_url = public_url.rstrip("/")

    def __call__(self, task: Task) -> CalendarOutcome:
        booking_id = str(task.payload.get("booking_id", ""))
        if not task.tenant_id or not booking_id:
            raise PermanentDeliveryError("task has no tenant_id or booking_id")
        if self.calendar is None:
            return CalendarOutcome.SKIPPED
        plan = self._plan(task.tenant_id, booking_id)
        if plan is None:
            return CalendarOutcome.SKIPPED
        # The provider call runs outside the transaction: no row is locked while it waits.
        try:
            if plan.event is None:
                self.calendar.delete_event(plan.calendar_id, plan.event_id)
                outcome = CalendarOutcome.DELETED
            else:
                self.calendar.upsert_event(plan.calendar_id, plan.event_id, plan.event)
                outcome = CalendarOutcome.UPSERTED
        except PermanentDeliveryError:
            self._synced(task.tenant_id, booking_id, plan.version)  # given up on: not owed
            raise
        self._synced(task.tenant_id, booking_id, plan.version)
        return outcome

    def _synced(self, tenant_id: str, booking_id: str, version: datetime) -> None:
        with self.uow.for_tenant(tenant_id):
            booking = self.uow.bookings.get(tenant_id, booking_id)
            if booking is None:
                return
            synced = booking.calendar_synced_at
            if synced is None or synced < version:  # a later sync may have recorded more
                booking.calendar_synced_at = version
                self.uow.commit()

    def _plan(self, tenant_id: str, booking_id: str) -> _Plan | None:
        with self.uow.for_tenant(tenant_id):
            tenant = self.uow.tenants.get(tenant_id)
            booking = self.uow.bookings.get(tenant_id, booking_id)
            if tenant is None or booking is None:
                raise PermanentDeliveryError(f"booking {booking_id} not found for this tenant")
            if not tenant.google_calendar_id:
                return None
            if booking.calendar_event_id is None:  # a booking stored before ids were set
                booking.calendar_event_id = calendar_event_id(booking.calcom_uid)
                self.uow.commit()
            if booking.status == BookingStatus.CANCELLED:
                return _Plan(
                    tenant.google_calendar_id, booking.calendar_event_id, None, booking.updated_at
                )
            lead = self.uow.leads.get(tenant_id, booking.lead_id)
            quote = self.uow.quotes.latest_for_lead(tenant_id, booking.lead_id)
            event = CalendarEvent(
                summary=event_summary(booking, lead),
                description=self._description(booking, lead, quote),
                start=booking.start_at,
                end=booking.end_at,
                timezone=tenant.timezone,
                location=booking.address,
            )
            return _Plan(
                tenant.google_calendar_id, booking.calendar_event_id, event, booking.updated_at
            )

    def _description(self, booking: Booking, lead: Lead | None, quote: Quote | None) -> str:
        return booking_description(
            lead_name=(lead.name if lead else None) or booking.attendee_name,
            lead_phone=(lead.phone if lead else None) or booking.attendee_phone,
            address=booking.address,
            quote_url=f"{self.public_url}/api/v1/quotes/{quote.id}" if quote else None,
        )
