"""DESIGN §2.3: Cal.com bookings drive the Booking row, the customer's SMS, the review
request and (through CALENDAR_SYNC tasks) the tenant's Google Calendar.

One Booking row per appointment. Cal.com gives a rescheduled booking a new uid (the old one
is its `rescheduleUid`); Lily keeps the same row and moves `calcom_uid` to the new uid, so
a later BOOKING_CANCELLED (which names the new uid) finds it. The calendar event id is
derived from the first uid when the row is created and never recomputed, so it survives
the uid change (and a reschedule that arrives before the first calendar sync).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from lily_core.domain.booking_events import (
    UID_MAX,
    BookingTrigger,
    BookingWebhook,
    calendar_event_id,
    require_booking_time,
)
from lily_core.domain.leads import (
    Conversation,
    Direction,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
    email_or_none,
)
from lily_core.domain.owner_alerts import AlertKind, OwnerAlert
from lily_core.domain.records import Booking, BookingStatus, ProcessedWebhook
from lily_core.domain.sanitize import require_id
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict
from lily_core.ports.clock import Clock
from lily_core.ports.queue import JitterQueue
from lily_core.ports.repositories import UnitOfWork
from lily_core.use_cases.calendar_sync import enqueue_calendar_sync
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message
from lily_core.use_cases.owner_alerts import note_alert, schedule_alert

PROVIDER = "calcom"
_PENDING = (MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.SENDING)


class BookingOutcome(enum.StrEnum):
    CREATED = "created"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    DUPLICATE = "duplicate"  # this trigger for this uid was handled already
    IGNORED = "ignored"  # a trigger Lily does not act on, or a change to a cancelled booking


_ALERTS = {
    BookingOutcome.CREATED: AlertKind.BOOKING_MADE,
    BookingOutcome.RESCHEDULED: AlertKind.BOOKING_RESCHEDULED,
    BookingOutcome.CANCELLED: AlertKind.BOOKING_CANCELLED,
}


@attrs.frozen
class BookingResult:
    outcome: BookingOutcome
    booking_id: str | None = None
    lead_id: str | None = None


@attrs.define
class _Effects:
    """What to enqueue once the transaction is committed."""

    messages: list[tuple[Message, Conversation]] = attrs.field(factory=list)
    sync_calendar: bool = False
    alert: OwnerAlert | None = None


def local_when(moment: datetime, timezone: str) -> str:
    """`Tue, Dec 1 at 10:00 AM CST`: an instant as the tenant's customers read it."""
    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment  # a tenant with a broken timezone still gets its texts, in UTC
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    return f"{local:%a, %b} {local.day} at {hour}:{local:%M} {meridiem} {local:%Z}"


def confirmation_text(tenant: Tenant, booking: Booking) -> str:
    where = f" at {booking.address}" if booking.address else ""
    return (
        f"{tenant.name}: you're booked for {local_when(booking.start_at, tenant.timezone)}"
        f"{where}. Reply here if anything changes."
    )


def rescheduled_text(tenant: Tenant, booking: Booking) -> str:
    return (
        f"{tenant.name}: your appointment is moved to "
        f"{local_when(booking.start_at, tenant.timezone)}. See you then!"
    )


def cancelled_text(tenant: Tenant, booking: Booking) -> str:
    return (
        f"{tenant.name}: your appointment on {local_when(booking.start_at, tenant.timezone)} "
        "is cancelled. Text us any time to book again."
    )


def review_text(tenant: Tenant) -> str:
    return (
        f"Thanks for choosing {tenant.name}! Would you take a minute to leave us a review? "
        f"{tenant.review_url} Reply STOP to opt out."
    )


class HandleBookingWebhook:
    """Apply one verified Cal.com booking webhook, once per (tenant, trigger, uid).

    CREATED records the booking against its lead (the metadata lead of this tenant, else
    the attendee's phone, else email, else a new lead) and queues the confirmation and the
    review request; RESCHEDULED moves the booking and its review request; CANCELLED cancels
    both. Every change enqueues CALENDAR_SYNC when the tenant has a calendar. A redelivery
    changes nothing (it only re-enqueues the idempotent calendar sync, in case the first
    enqueue was lost); so does a concurrent duplicate that loses the race at commit.
    A booking without a uid (or one longer than Lily keeps), or with a time outside the
    years bookings can have (booking_events.require_booking_time), is InvalidInput.
    """

    def __init__(self, uow: UnitOfWork, queue: JitterQueue, clock: Clock) -> None:
        self.uow, self.queue, self.clock = uow, queue, clock

    def __call__(
        self, tenant: Tenant, event: BookingWebhook, *, request_id: str | None = None
    ) -> BookingResult:
        if event.trigger is BookingTrigger.OTHER:
            return BookingResult(BookingOutcome.IGNORED)
        require_id(event.uid, field="payload.uid", limit=UID_MAX)
        require_booking_time(event.start, field="payload.startTime")
        require_booking_time(event.end, field="payload.endTime")
        try:
            result, effects, booking = self._apply(tenant, event)
        except Conflict:  # the same delivery, handled at the same moment elsewhere
            return BookingResult(BookingOutcome.DUPLICATE)
        for message, conversation in effects.messages:
            run_at = message.send_after or self.clock.now()
            enqueue_send(
                self.queue, message, run_at, conversation=conversation, request_id=request_id
            )
        if effects.sync_calendar and booking is not None:
            self._enqueue_sync(tenant, booking, request_id)
        schedule_alert(self.queue, effects.alert, request_id=request_id)
        return result

    def _apply(
        self, tenant: Tenant, event: BookingWebhook
    ) -> tuple[BookingResult, _Effects, Booking | None]:
        now = self.clock.now()
        effects = _Effects()
        # Tenant-scoped key: one Cal.com account may feed two tenants with the same uids.
        key = f"{tenant.id}:{event.idempotency_key}"
        with self.uow.for_tenant(tenant.id):
            if self.uow.webhooks.seen(PROVIDER, key):
                booking = self._known(tenant, event)
                effects.sync_calendar = booking is not None and bool(tenant.google_calendar_id)
                result = BookingResult(BookingOutcome.DUPLICATE, booking.id if booking else None)
                return result, effects, booking
            self.uow.webhooks.add(
                ProcessedWebhook(
                    provider=PROVIDER, event_id=key, tenant_id=tenant.id, received_at=now
                )
            )
            if event.trigger is BookingTrigger.BOOKING_CANCELLED:
                outcome, booking = self._cancelled(tenant, event, now, effects)
            elif event.trigger is BookingTrigger.BOOKING_RESCHEDULED:
                outcome, booking = self._rescheduled(tenant, event, now, effects)
            else:
                outcome, booking = self._created(tenant, event, now, effects)
            effects.alert = self._alert(tenant, outcome, booking, event.idempotency_key, now)
            self.uow.commit()
        effects.sync_calendar = effects.sync_calendar and bool(tenant.google_calendar_id)
        return BookingResult(outcome, booking.id, booking.lead_id), effects, booking

    def _known(self, tenant: Tenant, event: BookingWebhook) -> Booking | None:
        found = self.uow.bookings.get_by_uid(tenant.id, event.uid)
        if found is None and event.reschedule_uid:
            found = self.uow.bookings.get_by_uid(tenant.id, event.reschedule_uid)
        return found

    # -- the three triggers -----------------------------------------------------------------

    def _created(
        self, tenant: Tenant, event: BookingWebhook, now: datetime, effects: _Effects
    ) -> tuple[BookingOutcome, Booking]:
        existing = self.uow.bookings.get_by_uid(tenant.id, event.uid)
        if existing is not None:  # known already (a reschedule or cancellation came first)
            return BookingOutcome.DUPLICATE, existing
        lead = find_or_create_lead(self.uow, tenant, event, now)
        booking = new_booking(tenant, event, lead, now, BookingStatus.BOOKED)
        self.uow.bookings.add(booking)
        lead.status = LeadStatus.BOOKED
        self._text(
            tenant, lead, MessageKind.CONFIRMATION, confirmation_text(tenant, booking), now, effects
        )
        self._schedule_review(tenant, lead, booking, now, effects)
        effects.sync_calendar = True
        return BookingOutcome.CREATED, booking

    def _rescheduled(
        self, tenant: Tenant, event: BookingWebhook, now: datetime, effects: _Effects
    ) -> tuple[BookingOutcome, Booking]:
        booking = self._known(tenant, event)
        if booking is None:  # the original never reached us: this is the booking
            return self._created(tenant, event, now, effects)
        if booking.status == BookingStatus.CANCELLED:
            return BookingOutcome.IGNORED, booking  # a cancelled booking is not revived
        booking.calcom_uid = event.uid
        booking.start_at, booking.end_at = event.start, event.end
        booking.title = event.title or booking.title
        booking.address = event.address or booking.address
        booking.status = BookingStatus.RESCHEDULED
        booking.updated_at = now
        lead = self._lead_of(tenant, booking)
        if lead is not None:
            lead.status = LeadStatus.BOOKED
            self._text(
                tenant,
                lead,
                MessageKind.CONFIRMATION,
                rescheduled_text(tenant, booking),
                now,
                effects,
            )
            review = pending_review(self.uow, tenant.id, lead.id)
            if review is None:
                self._schedule_review(tenant, lead, booking, now, effects)
            elif review.status != MessageStatus.SENDING:
                # The task already enqueued for the old time is stale: SendMessage must
                # skip it (see the note on send_after in the report); a new task is made
                # for the new time, since the dedupe key includes send_after.
                review.send_after = review_due(tenant, booking)
                review.updated_at = now
                effects.messages.append((review, self._conversation(tenant, lead, now)))
        effects.sync_calendar = True
        return BookingOutcome.RESCHEDULED, booking

    def _cancelled(
        self, tenant: Tenant, event: BookingWebhook, now: datetime, effects: _Effects
    ) -> tuple[BookingOutcome, Booking]:
        booking = self._known(tenant, event)
        if booking is None:
            # Cancelled before we heard of it: keep a cancelled row, so that a late
            # BOOKING_CREATED for the same uid is a no-op instead of a live booking.
            owner = find_or_create_lead(self.uow, tenant, event, now)
            booking = new_booking(tenant, event, owner, now, BookingStatus.CANCELLED)
            self.uow.bookings.add(booking)
            return BookingOutcome.CANCELLED, booking
        if booking.status == BookingStatus.CANCELLED:
            return BookingOutcome.DUPLICATE, booking
        booking.status, booking.updated_at = BookingStatus.CANCELLED, now
        lead = self._lead_of(tenant, booking)
        if lead is not None:
            review = pending_review(self.uow, tenant.id, lead.id)
            if review is not None and review.status != MessageStatus.SENDING:
                review.status, review.error_message = MessageStatus.SUPPRESSED, "booking cancelled"
                review.updated_at = now
            self._text(
                tenant,
                lead,
                MessageKind.CONFIRMATION,
                cancelled_text(tenant, booking),
                now,
                effects,
            )
        effects.sync_calendar = True
        return BookingOutcome.CANCELLED, booking

    # -- helpers ----------------------------------------------------------------------------

    def _alert(
        self, tenant: Tenant, outcome: BookingOutcome, booking: Booking, key: str, now: datetime
    ) -> OwnerAlert | None:
        """The owner hears of a booking made, moved or cancelled, with its local time."""
        kind = _ALERTS.get(outcome)
        lead = self._lead_of(tenant, booking) if kind is not None else None
        if kind is None or lead is None:
            return None
        when = local_when(booking.start_at, tenant.timezone)
        return note_alert(self.uow, tenant, kind, lead, now, detail=when, ref=key)

    def _lead_of(self, tenant: Tenant, booking: Booking) -> Lead | None:
        return self.uow.leads.get(tenant.id, booking.lead_id)

    def _conversation(self, tenant: Tenant, lead: Lead, now: datetime) -> Conversation:
        conversation = open_conversation(self.uow, tenant, lead, now)
        # Booking is something the customer just did: its texts are replies, not outreach.
        conversation.last_customer_activity_at = conversation.updated_at = now
        return conversation

    def _text(
        self,
        tenant: Tenant,
        lead: Lead,
        kind: MessageKind,
        body: str,
        now: datetime,
        effects: _Effects,
    ) -> None:
        if not lead.phone:
            return  # booked with an email only: nothing to text
        conversation = self._conversation(tenant, lead, now)
        message = queue_message(self.uow, lead, conversation, kind=kind, body=body, now=now)
        effects.messages.append((message, conversation))

    def _schedule_review(
        self, tenant: Tenant, lead: Lead, booking: Booking, now: datetime, effects: _Effects
    ) -> None:
        """Every customer is asked (no gating on how happy they are: FTC, 16 CFR 465.7), at
        most once per cooldown; business-initiated, so SendMessage holds it past quiet hours
        and outside the recipient's state window."""
        due = review_due(tenant, booking)
        if not tenant.review_url or not lead.phone or review_blocked(self.uow, tenant, lead, due):
            return
        conversation = self._conversation(tenant, lead, now)
        message = queue_message(
            self.uow,
            lead,
            conversation,
            kind=MessageKind.REVIEW_REQUEST,
            body=review_text(tenant),
            now=now,
            business_initiated=True,
            send_after=due,
        )
        effects.messages.append((message, conversation))

    def _enqueue_sync(self, tenant: Tenant, booking: Booking, request_id: str | None) -> None:
        enqueue_calendar_sync(self.queue, booking, self.clock.now(), request_id=request_id)


def find_or_create_lead(
    uow: UnitOfWork, tenant: Tenant, event: BookingWebhook, now: datetime
) -> Lead:
    """The booking's lead: `metadata[lead_id]` if it is a lead of this tenant, else the lead
    with the attendee's phone, else with their email, else a new lead from the attendee.
    A found lead's missing name, email and phone are filled in from the attendee."""
    # lower() can lengthen a string ("İ" is two characters lower-cased): checked after it
    email = email_or_none(event.attendee_email.lower()) if event.attendee_email else None
    lead = uow.leads.get(tenant.id, event.lead_id) if event.lead_id else None
    if lead is None and event.attendee_phone:
        lead = uow.leads.get_by_phone(tenant.id, event.attendee_phone)
    if lead is None and email:
        lead = uow.leads.get_by_email(tenant.id, email)
    if lead is None:
        lead = Lead(
            tenant_id=tenant.id,
            phone=event.attendee_phone,
            name=event.attendee_name,
            email=email,
            created_at=now,
        )
        uow.leads.add(lead)
        return lead
    lead.name = lead.name or event.attendee_name
    lead.email = lead.email or email
    phone = event.attendee_phone
    # Phones are unique within a tenant: only a phone no other lead has is taken over.
    if lead.phone is None and phone and uow.leads.get_by_phone(tenant.id, phone) is None:
        lead.phone = phone
    return lead


def new_booking(
    tenant: Tenant, event: BookingWebhook, lead: Lead, now: datetime, status: BookingStatus
) -> Booking:
    return Booking(
        tenant_id=tenant.id,
        lead_id=lead.id,
        calcom_uid=event.uid,
        status=status,
        title=event.title,
        start_at=event.start,
        end_at=event.end,
        address=event.address,
        attendee_name=event.attendee_name,
        attendee_email=event.attendee_email,
        attendee_phone=event.attendee_phone,
        # fixed at creation: a reschedule's new Cal.com uid never makes a second event
        calendar_event_id=calendar_event_id(event.uid),
        created_at=now,
        updated_at=now,
    )


def review_due(tenant: Tenant, booking: Booking) -> datetime:
    return booking.end_at + timedelta(hours=tenant.review_delay_hours)


def pending_review(uow: UnitOfWork, tenant_id: str, lead_id: str) -> Message | None:
    """The lead's review request that is still to be sent (queued, held or mid-send)."""
    for message in uow.messages.list_for_lead(tenant_id, lead_id, limit=500).items:
        if message.kind == MessageKind.REVIEW_REQUEST and message.status in _PENDING:
            return message
    return None


def review_blocked(uow: UnitOfWork, tenant: Tenant, lead: Lead, due: datetime) -> bool:
    """True if the lead has a review request pending, or had one sent less than
    `review_cooldown_days` before `due`."""
    last = lead.last_review_request_at
    for message in uow.messages.list_for_lead(tenant.id, lead.id, limit=500).items:
        if message.kind != MessageKind.REVIEW_REQUEST or message.direction != Direction.OUTBOUND:
            continue
        if message.status in _PENDING:
            return True
        if message.sent_at is not None and (last is None or message.sent_at > last):
            last = message.sent_at  # counts even before SendMessage stamps the lead
    return last is not None and due - last < timedelta(days=tenant.review_cooldown_days)
