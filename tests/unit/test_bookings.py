"""Cal.com bookings (DESIGN §2.3) against the in-memory fakes: the Booking row, the lead it
belongs to, the texts it queues, the review request and the calendar sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from lily_core.domain.booking_events import BookingTrigger, BookingWebhook, calendar_event_id
from lily_core.domain.compliance import Jitter
from lily_core.domain.leads import (
    Direction,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.records import Booking, BookingStatus, Quote
from lily_core.domain.tenant import Tenant
from lily_core.errors import Conflict, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.queue import Task, TaskType
from lily_core.testing import (
    FakeCalendar,
    FakeClock,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryUnitOfWork,
)
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.use_cases.bookings import BookingOutcome, HandleBookingWebhook
from lily_core.use_cases.calendar_sync import CalendarOutcome, SyncCalendar
from lily_core.use_cases.send_message import SendMessage

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Tue 10:00 AM in Chicago
PHONE = "+15125550100"
CAL_ID = "sparkle@group.calendar.google.com"
PUBLIC_URL = "https://lily.example"


def webhook(
    trigger: BookingTrigger = BookingTrigger.BOOKING_CREATED, **changes: object
) -> BookingWebhook:
    event = BookingWebhook(
        trigger=trigger,
        raw_trigger=trigger.value,
        uid="bk_1",
        title="House wash estimate",
        start=START,
        end=START + timedelta(hours=1),
        address="123 Main St, Austin TX",
        attendee_name="Pat Customer",
        attendee_email="pat@example.com",
        attendee_phone=PHONE,
    )
    return attrs.evolve(event, **changes)


class World:
    """A tenant in an in-memory database, a queue and a calendar on one fake clock."""

    def __init__(self, **tenant_settings: object) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock(NOW)
        self.queue = InMemoryJitterQueue(self.clock)
        self.calendar = FakeCalendar()
        settings: dict[str, object] = {
            "review_url": "https://g.page/r/sparkle/review",
            "google_calendar_id": CAL_ID,
            **tenant_settings,
        }
        self.tenant = Tenant(
            name="Sparkle Wash",
            slug="sparkle-wash",
            phone="+15125550199",
            timezone="America/Chicago",
            created_at=NOW,
            **settings,  # type: ignore[arg-type]
        )
        self.add(self.tenant)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    def add(self, *entities: object) -> None:
        uow = self.uow()
        with uow.across_tenants():
            for entity in entities:
                table = {
                    Tenant: uow.tenants,
                    Lead: uow.leads,
                    Message: uow.messages,
                    Quote: uow.quotes,
                }[type(entity)]
                table.add(entity)  # type: ignore[attr-defined]
            uow.commit()

    def handle(self, event: BookingWebhook) -> BookingOutcome:
        return HandleBookingWebhook(self.uow(), self.queue, self.clock)(self.tenant, event).outcome

    def sync(self, calendar: FakeCalendar | None = None) -> CalendarOutcome:
        """Run the latest CALENDAR_SYNC task."""
        task = self.tasks(TaskType.CALENDAR_SYNC)[-1]
        use = SyncCalendar(self.uow(), calendar or self.calendar, self.clock, PUBLIC_URL)
        return use(task)

    def tasks(self, task_type: str) -> list[Task]:
        return [t for t in self.queue.scheduled if t.type == task_type]

    def booking(self, uid: str) -> Booking:
        uow = self.uow()
        with uow.across_tenants():
            found = uow.bookings.get_by_uid(self.tenant.id, uid)
        assert found is not None
        return found

    def lead(self, lead_id: str) -> Lead:
        uow = self.uow()
        with uow.across_tenants():
            found = uow.leads.get(self.tenant.id, lead_id)
        assert found is not None
        return found

    def leads(self) -> list[Lead]:
        uow = self.uow()
        with uow.across_tenants():
            return uow.leads.list(self.tenant.id).items

    def messages(self, kind: MessageKind | None = None) -> list[Message]:
        uow = self.uow()
        with uow.across_tenants():
            found = [
                m
                for lead in uow.leads.list(self.tenant.id).items
                for m in uow.messages.list_for_lead(self.tenant.id, lead.id).items
            ]
        found.sort(key=lambda m: (m.created_at, m.kind))
        return [m for m in found if kind is None or m.kind == kind]


@pytest.fixture
def world() -> World:
    return World()


# -- BOOKING_CREATED -------------------------------------------------------------------------


def test_a_new_booking_is_stored_confirmed_reviewed_and_synced(world: World) -> None:
    assert world.handle(webhook()) == BookingOutcome.CREATED

    booking = world.booking("bk_1")
    assert (booking.status, booking.start_at, booking.address) == (
        BookingStatus.BOOKED,
        START,
        "123 Main St, Austin TX",
    )
    [lead] = world.leads()
    assert booking.lead_id == lead.id
    assert (lead.phone, lead.name, lead.email, lead.status) == (
        PHONE,
        "Pat Customer",
        "pat@example.com",
        LeadStatus.BOOKED,
    )
    [confirmation] = world.messages(MessageKind.CONFIRMATION)
    assert "Tue, Dec 1 at 10:00 AM CST" in confirmation.body
    assert "123 Main St, Austin TX" in confirmation.body
    assert confirmation.status == MessageStatus.QUEUED
    assert not confirmation.business_initiated
    [review] = world.messages(MessageKind.REVIEW_REQUEST)
    assert review.business_initiated
    assert review.send_after == booking.end_at + timedelta(hours=24)
    assert "https://g.page/r/sparkle/review" in review.body
    [send] = world.tasks(TaskType.SEND_MESSAGE)
    assert (send.payload["message_id"], send.run_at) == (confirmation.id, NOW)
    [review_task] = world.tasks(TaskType.REVIEW_REQUEST_SMS)
    assert (review_task.payload["message_id"], review_task.run_at) == (review.id, review.send_after)
    [sync] = world.tasks(TaskType.CALENDAR_SYNC)
    assert (sync.payload, sync.tenant_id) == ({"booking_id": booking.id}, world.tenant.id)


def test_the_review_delay_is_the_tenants(world: World) -> None:
    world = World(review_delay_hours=3)

    world.handle(webhook())

    [review] = world.messages(MessageKind.REVIEW_REQUEST)
    assert review.send_after == START + timedelta(hours=4)


def test_a_redelivered_webhook_has_no_second_effect(world: World) -> None:
    world.handle(webhook())
    before = (len(world.messages()), len(world.queue.scheduled))

    assert world.handle(webhook()) == BookingOutcome.DUPLICATE

    assert (len(world.messages()), len(world.queue.scheduled)) == before
    assert len(world.leads()) == 1


def test_a_redelivery_re_enqueues_only_the_idempotent_calendar_sync(world: World) -> None:
    world.handle(webhook())
    for task in world.queue.claim(10, lease_seconds=60):  # the queue loses what was due
        world.queue.ack(task.id)

    assert world.handle(webhook()) == BookingOutcome.DUPLICATE

    assert [t.type for t in world.queue.scheduled] == [
        TaskType.CALENDAR_SYNC,  # again: a sync lost with the queue is repaired
        TaskType.REVIEW_REQUEST_SMS,  # the original, still waiting
    ]


def test_a_duplicate_that_loses_the_race_at_commit_enqueues_nothing(world: World) -> None:
    class Racing(InMemoryUnitOfWork):
        def commit(self) -> None:
            raise Conflict("webhooks: already exists")

    use = HandleBookingWebhook(Racing(world.db), world.queue, world.clock)

    assert use(world.tenant, webhook()).outcome == BookingOutcome.DUPLICATE
    assert world.queue.scheduled == []
    assert world.messages() == []


def test_the_same_uid_for_another_trigger_is_not_a_duplicate(world: World) -> None:
    world.handle(webhook())

    assert world.handle(webhook(BookingTrigger.BOOKING_CANCELLED)) == BookingOutcome.CANCELLED


def test_another_tenants_delivery_of_the_same_uid_is_not_a_duplicate(world: World) -> None:
    other = Tenant(name="Other", slug="other", phone="+15125550198", created_at=NOW)
    world.add(other)
    world.handle(webhook())

    use = HandleBookingWebhook(world.uow(), world.queue, world.clock)

    assert use(other, webhook()).outcome == BookingOutcome.CREATED


def test_other_triggers_are_ignored(world: World) -> None:
    event = webhook(BookingTrigger.OTHER, raw_trigger="MEETING_ENDED")

    assert world.handle(event) == BookingOutcome.IGNORED
    assert world.leads() == []
    assert world.queue.scheduled == []


# -- which lead ------------------------------------------------------------------------------


def test_the_lead_in_the_booking_metadata_wins(world: World) -> None:
    quoted = Lead(
        tenant_id=world.tenant.id, phone="+15125550111", status=LeadStatus.QUOTED, created_at=NOW
    )
    by_phone = Lead(tenant_id=world.tenant.id, phone=PHONE, created_at=NOW)
    world.add(quoted, by_phone)

    world.handle(webhook(lead_id=quoted.id))

    assert world.booking("bk_1").lead_id == quoted.id
    lead = world.lead(quoted.id)
    assert (lead.status, lead.name, lead.phone) == (
        LeadStatus.BOOKED,
        "Pat Customer",
        "+15125550111",
    )


def test_another_tenants_lead_id_in_the_metadata_is_not_followed(world: World) -> None:
    other = Tenant(name="Other", slug="other", phone="+15125550198", created_at=NOW)
    foreign = Lead(tenant_id=other.id, phone="+15125550111", created_at=NOW)
    mine = Lead(tenant_id=world.tenant.id, phone=PHONE, created_at=NOW)
    world.add(other, foreign, mine)

    world.handle(webhook(lead_id=foreign.id))

    assert world.booking("bk_1").lead_id == mine.id


def test_the_lead_is_found_by_the_attendees_phone(world: World) -> None:
    existing = Lead(tenant_id=world.tenant.id, phone=PHONE, name="Pat C.", created_at=NOW)
    world.add(existing)

    world.handle(webhook(lead_id="ld_unknown"))

    assert world.booking("bk_1").lead_id == existing.id
    assert world.lead(existing.id).name == "Pat C."  # a name we had is kept
    assert len(world.leads()) == 1


def test_the_lead_is_found_by_email_and_gets_the_attendees_phone(world: World) -> None:
    existing = Lead(tenant_id=world.tenant.id, email="pat@example.com", created_at=NOW)
    world.add(existing)

    world.handle(webhook(attendee_email="Pat@Example.com"))

    assert world.booking("bk_1").lead_id == existing.id
    assert world.lead(existing.id).phone == PHONE
    [confirmation] = world.messages(MessageKind.CONFIRMATION)
    assert confirmation.lead_id == existing.id


def test_an_attendee_without_a_phone_becomes_a_lead_but_gets_no_texts(world: World) -> None:
    world.handle(webhook(attendee_phone=None))

    [lead] = world.leads()
    assert (lead.phone, lead.email) == (None, "pat@example.com")
    assert world.messages() == []
    assert len(world.tasks(TaskType.CALENDAR_SYNC)) == 1


def test_an_opted_out_lead_gets_nothing_queued(world: World) -> None:
    world.add(Lead(tenant_id=world.tenant.id, phone=PHONE, opted_out=True, created_at=NOW))

    world.handle(webhook())

    assert {m.status for m in world.messages()} == {MessageStatus.SUPPRESSED}
    assert [t.type for t in world.queue.scheduled] == [TaskType.CALENDAR_SYNC]


# -- the review request ----------------------------------------------------------------------


@pytest.mark.parametrize(("days_ago", "asked"), [(10, False), (89, False), (200, True)])
def test_one_review_request_per_cooldown(world: World, days_ago: int, asked: bool) -> None:
    # the cooldown runs to the moment the request would go out (end + 24 h)
    last = START + timedelta(hours=25) - timedelta(days=days_ago)
    world.add(
        Lead(tenant_id=world.tenant.id, phone=PHONE, last_review_request_at=last, created_at=NOW)
    )

    world.handle(webhook())

    assert len(world.messages(MessageKind.REVIEW_REQUEST)) == (1 if asked else 0)
    assert len(world.messages(MessageKind.CONFIRMATION)) == 1


def test_a_review_sent_recently_counts_even_before_the_lead_is_stamped(world: World) -> None:
    lead = Lead(tenant_id=world.tenant.id, phone=PHONE, created_at=NOW)
    sent = Message(
        tenant_id=world.tenant.id,
        lead_id=lead.id,
        direction=Direction.OUTBOUND,
        kind=MessageKind.REVIEW_REQUEST,
        body="review?",
        status=MessageStatus.SENT,
        sent_at=NOW - timedelta(days=5),
        created_at=NOW - timedelta(days=6),
        updated_at=NOW,
    )
    world.add(lead, sent)

    world.handle(webhook())

    assert [m.id for m in world.messages(MessageKind.REVIEW_REQUEST)] == [sent.id]


def test_a_second_booking_does_not_queue_a_second_review_request(world: World) -> None:
    world.handle(webhook())

    world.handle(
        webhook(uid="bk_2", start=START + timedelta(days=7), end=START + timedelta(days=7, hours=1))
    )

    assert len(world.messages(MessageKind.REVIEW_REQUEST)) == 1
    assert len(world.messages(MessageKind.CONFIRMATION)) == 2


def test_the_cooldown_is_the_tenants(world: World) -> None:
    world = World(review_cooldown_days=3)
    world.add(
        Lead(
            tenant_id=world.tenant.id,
            phone=PHONE,
            last_review_request_at=NOW - timedelta(days=4),
            created_at=NOW,
        )
    )

    world.handle(webhook())

    assert len(world.messages(MessageKind.REVIEW_REQUEST)) == 1


def test_a_tenant_without_a_review_url_asks_for_no_review() -> None:
    world = World(review_url=None)

    world.handle(webhook())

    assert world.messages(MessageKind.REVIEW_REQUEST) == []
    assert world.tasks(TaskType.REVIEW_REQUEST_SMS) == []


def test_a_tenant_without_a_calendar_gets_no_calendar_task() -> None:
    world = World(google_calendar_id=None)

    world.handle(webhook())

    assert world.tasks(TaskType.CALENDAR_SYNC) == []
    assert len(world.messages(MessageKind.CONFIRMATION)) == 1


# -- BOOKING_RESCHEDULED ---------------------------------------------------------------------

NEW_START = START + timedelta(days=2, hours=7, minutes=30)  # Thu 5:30 PM in Chicago


def rescheduled() -> BookingWebhook:
    return webhook(
        BookingTrigger.BOOKING_RESCHEDULED,
        uid="bk_2",
        reschedule_uid="bk_1",
        start=NEW_START,
        end=NEW_START + timedelta(hours=1),
    )


def test_a_reschedule_moves_the_booking_and_its_review_request(world: World) -> None:
    world.handle(webhook())
    original = world.booking("bk_1")
    [review] = world.messages(MessageKind.REVIEW_REQUEST)
    world.clock.advance(hours=1)

    assert world.handle(rescheduled()) == BookingOutcome.RESCHEDULED

    booking = world.booking("bk_2")
    assert booking.id == original.id
    assert (booking.status, booking.start_at, booking.end_at) == (
        BookingStatus.RESCHEDULED,
        NEW_START,
        NEW_START + timedelta(hours=1),
    )
    [moved] = world.messages(MessageKind.REVIEW_REQUEST)
    assert moved.id == review.id
    assert moved.send_after == NEW_START + timedelta(hours=25)
    review_runs = sorted(t.run_at for t in world.tasks(TaskType.REVIEW_REQUEST_SMS))
    assert review_runs == [review.send_after, moved.send_after]
    notice = world.messages(MessageKind.CONFIRMATION)[-1]
    assert "moved to Thu, Dec 3 at 5:30 PM CST" in notice.body
    assert len(world.tasks(TaskType.CALENDAR_SYNC)) == 2


def test_a_redelivered_reschedule_sends_no_second_notice(world: World) -> None:
    world.handle(webhook())
    world.handle(rescheduled())
    before = (len(world.messages()), len(world.queue.scheduled))

    assert world.handle(rescheduled()) == BookingOutcome.DUPLICATE

    assert (len(world.messages()), len(world.queue.scheduled)) == before


def test_a_cancellation_after_a_reschedule_finds_the_booking_by_its_new_uid(world: World) -> None:
    world.handle(webhook())
    world.handle(rescheduled())

    assert world.handle(webhook(BookingTrigger.BOOKING_CANCELLED, uid="bk_2")) == (
        BookingOutcome.CANCELLED
    )
    assert world.booking("bk_2").status == BookingStatus.CANCELLED


def test_a_reschedule_of_an_unknown_booking_is_a_new_booking(world: World) -> None:
    assert world.handle(rescheduled()) == BookingOutcome.CREATED

    assert world.booking("bk_2").start_at == NEW_START
    [confirmation] = world.messages(MessageKind.CONFIRMATION)
    assert "you're booked for Thu, Dec 3 at 5:30 PM CST" in confirmation.body


def test_a_cancelled_booking_is_not_revived_by_a_reschedule(world: World) -> None:
    world.handle(webhook())
    world.handle(webhook(BookingTrigger.BOOKING_CANCELLED))
    sent_before = len(world.messages())

    assert world.handle(rescheduled()) == BookingOutcome.IGNORED
    assert world.booking("bk_1").status == BookingStatus.CANCELLED
    assert len(world.messages()) == sent_before


# -- BOOKING_CANCELLED -----------------------------------------------------------------------


def test_a_cancellation_suppresses_the_review_request_and_deletes_the_event(
    world: World,
) -> None:
    world.handle(webhook())
    world.clock.advance(minutes=5)

    assert world.handle(webhook(BookingTrigger.BOOKING_CANCELLED)) == BookingOutcome.CANCELLED

    assert world.booking("bk_1").status == BookingStatus.CANCELLED
    [review] = world.messages(MessageKind.REVIEW_REQUEST)
    assert (review.status, review.error_message) == (MessageStatus.SUPPRESSED, "booking cancelled")
    notice = world.messages(MessageKind.CONFIRMATION)[-1]
    assert "Tue, Dec 1 at 10:00 AM CST is cancelled" in notice.body
    assert notice.status == MessageStatus.QUEUED
    assert len(world.tasks(TaskType.CALENDAR_SYNC)) == 2


def test_a_cancellation_that_comes_first_makes_a_later_creation_a_no_op(world: World) -> None:
    assert world.handle(webhook(BookingTrigger.BOOKING_CANCELLED)) == BookingOutcome.CANCELLED
    assert world.booking("bk_1").status == BookingStatus.CANCELLED

    assert world.handle(webhook()) == BookingOutcome.DUPLICATE

    assert world.messages() == []
    assert world.booking("bk_1").status == BookingStatus.CANCELLED


# -- SyncCalendar ----------------------------------------------------------------------------


def test_the_event_is_inserted_once_under_an_id_derived_from_the_booking(world: World) -> None:
    world.add(Lead(tenant_id=world.tenant.id, phone=PHONE, name="Pat Customer", created_at=NOW))
    world.handle(webhook())
    booking = world.booking("bk_1")
    quote = Quote(
        tenant_id=world.tenant.id,
        lead_id=booking.lead_id,
        zip="78701",
        in_service_area=True,
        low_cents=27000,
        high_cents=59000,
        currency="USD",
        explanation="house wash",
        pricebook_version=1,
        created_at=NOW,
    )
    world.add(quote)

    assert world.sync() == CalendarOutcome.UPSERTED
    assert world.sync() == CalendarOutcome.UPSERTED

    event_id = calendar_event_id("bk_1")
    assert list(world.calendar.events[CAL_ID]) == [event_id]
    assert world.booking("bk_1").calendar_event_id == event_id
    event = world.calendar.events[CAL_ID][event_id]
    assert event.summary == "House wash estimate — Pat Customer"
    assert (event.start, event.end, event.timezone, event.location) == (
        START,
        START + timedelta(hours=1),
        "America/Chicago",
        "123 Main St, Austin TX",
    )
    assert f"Phone: {PHONE}" in event.description
    assert "Address: 123 Main St, Austin TX" in event.description
    assert f"Quote: {PUBLIC_URL}/api/v1/quotes/{quote.id}" in event.description


def test_a_reschedule_updates_the_same_event(world: World) -> None:
    world.handle(webhook())
    world.sync()
    world.handle(rescheduled())

    assert world.sync() == CalendarOutcome.UPSERTED

    [(event_id, event)] = world.calendar.events[CAL_ID].items()
    assert event_id == calendar_event_id("bk_1")  # the first uid's, kept on the booking
    assert (event.start, event.end) == (NEW_START, NEW_START + timedelta(hours=1))


def test_a_cancellation_deletes_the_event(world: World) -> None:
    world.handle(webhook())
    world.sync()
    world.handle(webhook(BookingTrigger.BOOKING_CANCELLED))

    assert world.sync() == CalendarOutcome.DELETED

    assert world.calendar.events[CAL_ID] == {}


def test_a_booking_cancelled_before_any_sync_leaves_no_event(world: World) -> None:
    world.handle(webhook())
    world.handle(webhook(BookingTrigger.BOOKING_CANCELLED))

    # The event id is fixed when the booking is created, so the delete is aimed at the one
    # event the booking could have; deleting an event never written is a no-op.
    assert world.sync() == CalendarOutcome.DELETED
    assert world.calendar.events.get(CAL_ID, {}) == {}


def test_a_calendar_failure_raises_for_the_worker_to_retry(world: World) -> None:
    world.handle(webhook())
    world.calendar.fail_next = [TransientDeliveryError("503 backendError")]

    with pytest.raises(TransientDeliveryError):
        world.sync()

    assert world.booking("bk_1").status == BookingStatus.BOOKED  # the booking is kept
    assert world.sync() == CalendarOutcome.UPSERTED
    assert list(world.calendar.events[CAL_ID]) == [calendar_event_id("bk_1")]


def test_without_a_calendar_adapter_or_calendar_id_the_sync_does_nothing(world: World) -> None:
    world.handle(webhook())
    task = world.tasks(TaskType.CALENDAR_SYNC)[-1]

    assert SyncCalendar(world.uow(), None, world.clock, PUBLIC_URL)(task) == CalendarOutcome.SKIPPED
    world.tenant.google_calendar_id = None
    uow = world.uow()
    with uow.across_tenants():
        stored = uow.tenants.get(world.tenant.id)
        assert stored is not None
        stored.google_calendar_id = None
        uow.commit()
    assert world.sync() == CalendarOutcome.SKIPPED
    assert world.calendar.events == {}


def test_a_sync_for_an_unknown_booking_is_permanent(world: World) -> None:
    task = Task(
        id="t1",
        type=TaskType.CALENDAR_SYNC,
        tenant_id=world.tenant.id,
        payload={"booking_id": "nope"},
        run_at=NOW,
    )

    with pytest.raises(PermanentDeliveryError):
        SyncCalendar(world.uow(), world.calendar, world.clock, PUBLIC_URL)(task)


# -- with SendMessage ------------------------------------------------------------------------


def test_the_task_for_a_review_requests_old_time_does_not_send_it_early(world: World) -> None:
    world.handle(webhook())
    world.handle(rescheduled())
    sms = FakeSmsSender()
    send = SendMessage(
        world.uow(),
        world.queue,
        world.clock,
        sms,
        status_callback_url=None,
        jitter=Jitter(0, 0),
        max_attempts=5,
    )
    old_task = min(world.tasks(TaskType.REVIEW_REQUEST_SMS), key=lambda t: t.run_at)
    world.clock.current = old_task.run_at + timedelta(hours=6)  # past quiet hours, in daytime

    send(old_task)

    assert sms.sent == []
