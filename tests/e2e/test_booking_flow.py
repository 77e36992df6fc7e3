"""DESIGN §2.3 end to end: signed Cal.com webhooks over HTTP, then the worker in burst mode,
with Twilio's and Google's wire-format stand-ins. What we assert is what the customer's phone
receives and what the tenant's Google Calendar shows, on both backends of the harness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from lily_adapters.container import Container
from lily_core.domain.booking_events import calendar_event_id
from lily_core.domain.leads import (
    Conversation,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.records import Booking, Quote
from lily_core.testing import FakeClock
from tests.e2e.conftest import (
    CALLER,
    JITTER_MAX,
    JITTER_MIN,
    PUBLIC_URL,
    START,
    Lily,
    after,
    running_lily,
)
from tests.standins.google import DEFAULT_CALENDAR, GoogleStandIn, running_google
from tests.standins.twilio import TwilioStandIn

SECRET = "calcom_e2e_secret_0123456789"
REVIEW_URL = "https://g.page/r/acme-wash/review"
UID = "bk_e2e_first"
NEW_UID = "bk_e2e_moved"
NAME = "Pat Customer"
ADDRESS = "123 Main St, Austin TX"
# Wednesday 10:00-11:00 in Austin (CDT); the clock starts on the Monday before, at 10:00
VISIT = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)
VISIT_END = VISIT + timedelta(hours=1)
REVIEW_DUE = VISIT_END + timedelta(hours=24)  # the tenant's default review_delay_hours
# Thursday 14:30-15:30 CDT
MOVED = datetime(2026, 6, 4, 19, 30, tzinfo=UTC)
MOVED_END = MOVED + timedelta(hours=1)


class BookingLily(Lily):
    """The harness's Lily with Google Calendar on, a tenant set up for Cal.com (secret,
    calendar, review link) and a lead that has been quoted."""

    def __init__(
        self,
        container: Container,
        client: TestClient,
        clock: FakeClock,
        twilio: TwilioStandIn,
        google: GoogleStandIn,
    ) -> None:
        super().__init__(container, client, clock, twilio)
        self.google = google
        self.tenant = self.update_tenant(
            calcom_secret=SECRET, google_calendar_id=DEFAULT_CALENDAR, review_url=REVIEW_URL
        )
        self.quoted, self.quote = self.add_quoted_lead(CALLER)

    def add_quoted_lead(self, phone: str, zip_code: str = "78701") -> tuple[Lead, Quote]:
        """A lead that texted photos and a ZIP and got a ballpark (as AdvanceConversation
        leaves it), written through the unit of work."""
        now = self.clock.now()
        with self.container.uow().across_tenants() as uow:
            lead = Lead(
                tenant_id=self.tenant.id,
                phone=phone,
                zip=zip_code,
                status=LeadStatus.QUOTED,
                created_at=now,
            )
            uow.leads.add(lead)
            conversation = Conversation(
                tenant_id=self.tenant.id,
                lead_id=lead.id,
                zip=zip_code,
                photo_count=2,
                quoted_zip=zip_code,
                quoted_photo_count=2,
                created_at=now,
                updated_at=now,
            )
            uow.conversations.add(conversation)
            quote = Quote(
                tenant_id=self.tenant.id,
                lead_id=lead.id,
                conversation_id=conversation.id,
                zip=zip_code,
                in_service_area=True,
                low_cents=25000,
                high_cents=40000,
                currency="USD",
                lines=[{"kind": "service", "label": "House wash"}],
                explanation="House wash, 2 photos",
                pricebook_version=1,
                created_at=now,
            )
            uow.quotes.add(quote)
            uow.commit()
        return lead, quote

    # -- Cal.com ----------------------------------------------------------------------------

    def post_booking(self, body: bytes, signature: str | None = None) -> httpx.Response:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(SECRET, body) if signature is None else signature,
        }
        response: httpx.Response = self.client.post(
            f"/webhooks/calcom/{self.tenant.slug}", content=body, headers=headers
        )
        return response

    def book(self, trigger: str = "BOOKING_CREATED", **fields: Any) -> httpx.Response:
        response = self.post_booking(calcom_body(trigger, **fields))
        assert response.status_code == 200, response.text
        return response

    # -- state ------------------------------------------------------------------------------

    def bookings(self) -> list[Booking]:
        with self.container.uow().across_tenants() as uow:
            return list(uow.bookings.list(self.tenant.id, limit=100).items)

    def events(self) -> dict[str, dict[str, Any]]:
        """Every event of the tenant's calendar, cancelled ones included."""
        return dict(self.google.events[DEFAULT_CALENDAR])

    def live_events(self) -> dict[str, dict[str, Any]]:
        return self.google.live_events(DEFAULT_CALENDAR)

    def reviews(self, phone: str = CALLER) -> list[Message]:
        return [m for m in self.messages(phone) if m.kind == MessageKind.REVIEW_REQUEST]

    def review_texts(self, phone: str = CALLER) -> list[str]:
        return [m.body or "" for m in self.texts_to(phone) if REVIEW_URL in (m.body or "")]


def calcom_body(
    trigger: str = "BOOKING_CREATED",
    *,
    uid: str = UID,
    start: datetime = VISIT,
    end: datetime = VISIT_END,
    lead_id: str | None = None,
    phone: str = CALLER,
    name: str = NAME,
    email: str = "pat@example.com",
    reschedule_uid: str | None = None,
) -> bytes:
    """A Cal.com webhook (version 2021-10-20) shaped like contracts/webhook_samples.json."""
    payload: dict[str, Any] = {
        "type": "house-wash-estimate",
        "title": "House wash estimate",
        "startTime": start.isoformat().replace("+00:00", "Z"),
        "endTime": end.isoformat().replace("+00:00", "Z"),
        "organizer": {"name": "Sam Owner", "timeZone": "America/Chicago"},
        "attendees": [
            {"name": name, "email": email, "timeZone": "America/Chicago", "phoneNumber": phone}
        ],
        "location": ADDRESS,
        "uid": uid,
        "responses": {
            "name": {"label": "your_name", "value": name},
            "location": {
                "label": "Location",
                "value": {"value": "attendeeInPerson", "optionValue": ADDRESS},
            },
        },
        "status": "ACCEPTED",
    }
    if reschedule_uid is not None:
        payload["rescheduleUid"] = reschedule_uid
    # Cal.com sends no metadata on cancellations; Lily's booking links carry the lead's id
    if lead_id is not None and trigger != "BOOKING_CANCELLED":
        payload["metadata"] = {"lead_id": lead_id}
    document = {
        "triggerEvent": trigger,
        "createdAt": "2026-06-01T15:00:00.000Z",
        "payload": payload,
    }
    return json.dumps(document).encode()


@pytest.fixture
def google(tmp_path: Path) -> Iterator[GoogleStandIn]:
    with running_google(tmp_path) as (standin, _key):
        yield standin


@pytest.fixture
def cal(
    backend: tuple[str, str | None],
    twilio: TwilioStandIn,
    google: GoogleStandIn,
    tmp_path: Path,
) -> Iterator[BookingLily]:
    """The harness's `lily`, built the same way, plus Google Calendar at the stand-in."""
    with running_lily(
        backend,
        twilio,
        tmp_path,
        BookingLily,
        (google,),
        google_service_account_file=tmp_path / "service-account.json",  # by running_google
        google_calendar_api_url=google.calendar_api_url,
    ) as harness:
        yield harness


def confirmation(when: str) -> str:
    return f"Acme Wash Co: you're booked for {when} at {ADDRESS}. Reply here if anything changes."


# -- BOOKING_CREATED ------------------------------------------------------------------------


def test_a_booking_for_a_quoted_lead_gives_one_text_and_one_event(cal: BookingLily) -> None:
    response = cal.book(lead_id=cal.quoted.id)

    assert response.json() == {"status": "created"}
    assert cal.twilio.messages == [] and cal.events() == {}  # nothing inside the webhook

    cal.run_worker()

    [text] = cal.texts_to(CALLER)
    assert text.body == confirmation("Wed, Jun 3 at 10:00 AM CDT")
    event_id = calendar_event_id(UID)
    assert list(cal.events()) == [event_id]
    event = cal.events()[event_id]
    assert event["status"] == "confirmed"
    assert event["summary"] == f"House wash estimate — {NAME}"
    assert event["start"] == {
        "dateTime": "2026-06-03T10:00:00-05:00",
        "timeZone": "America/Chicago",
    }
    assert event["end"] == {"dateTime": "2026-06-03T11:00:00-05:00", "timeZone": "America/Chicago"}
    assert event["location"] == ADDRESS
    assert event["description"].splitlines() == [
        f"Customer: {NAME}",
        f"Phone: {CALLER}",
        f"Address: {ADDRESS}",
        f"Quote: {PUBLIC_URL}/api/v1/quotes/{cal.quote.id}",
    ]
    lead = cal.lead(CALLER)
    assert (lead.id, lead.status, lead.name) == (cal.quoted.id, LeadStatus.BOOKED, NAME)
    [booking] = cal.bookings()
    assert (booking.lead_id, booking.calendar_event_id) == (cal.quoted.id, event_id)
    assert len(cal.leads()) == 1


def test_a_redelivered_booking_changes_nothing(cal: BookingLily) -> None:
    cal.book(lead_id=cal.quoted.id)
    cal.run_worker()
    events_before, messages_before = cal.events(), cal.count_rows("messages")

    again = cal.book(lead_id=cal.quoted.id)
    cal.run_worker()

    assert again.json() == {"status": "duplicate"}
    assert len(cal.texts_to(CALLER)) == 1
    assert list(cal.events()) == list(events_before)
    assert (
        cal.live_events()[calendar_event_id(UID)]["start"]
        == (events_before[calendar_event_id(UID)]["start"])
    )
    assert cal.count_rows("messages") == messages_before
    assert (cal.count_rows("bookings"), cal.count_rows("leads")) == (1, 1)
    assert cal.queue_stats().dead == 0


def test_an_unknown_attendee_becomes_a_new_lead(cal: BookingLily) -> None:
    stranger = "+15125550177"

    response = cal.book(
        uid="bk_stranger", phone=stranger, name="Sam Newcomer", email="Sam@Example.com"
    )
    cal.run_worker()

    assert response.json() == {"status": "created"}
    lead = cal.lead(stranger)
    assert (lead.name, lead.email, lead.status) == (
        "Sam Newcomer",
        "sam@example.com",
        LeadStatus.BOOKED,
    )
    [text] = cal.texts_to(stranger)
    assert "Wed, Jun 3 at 10:00 AM CDT" in text.body
    assert cal.texts_to(CALLER) == []
    [event] = cal.live_events().values()
    assert event["summary"] == "House wash estimate — Sam Newcomer"
    assert f"Phone: {stranger}" in event["description"]
    assert "Quote:" not in event["description"]  # this lead was never quoted


def test_a_lead_id_of_no_lead_falls_back_to_the_attendee(cal: BookingLily) -> None:
    response = cal.book(lead_id="not-a-lead-of-this-tenant")
    cal.run_worker()

    assert response.json() == {"status": "created"}
    [booking] = cal.bookings()
    assert booking.lead_id == cal.quoted.id  # found by the attendee's phone
    assert len(cal.texts_to(CALLER)) == 1


# -- rescheduled and cancelled --------------------------------------------------------------


def reschedule(cal: BookingLily) -> httpx.Response:
    return cal.book(
        "BOOKING_RESCHEDULED",
        uid=NEW_UID,
        reschedule_uid=UID,
        start=MOVED,
        end=MOVED_END,
        lead_id=cal.quoted.id,
    )


def test_a_reschedule_moves_the_same_event_and_texts_the_new_time(cal: BookingLily) -> None:
    cal.book(lead_id=cal.quoted.id)
    cal.run_worker()

    response = reschedule(cal)
    cal.run_worker()

    assert response.json() == {"status": "rescheduled"}
    first, moved = cal.texts_to(CALLER)
    assert "Wed, Jun 3 at 10:00 AM CDT" in first.body
    assert (
        moved.body
        == "Acme Wash Co: your appointment is moved to Thu, Jun 4 at 2:30 PM CDT. See you then!"
    )
    event_id = calendar_event_id(UID)  # kept across Cal.com's new uid
    assert list(cal.events()) == [event_id]
    event = cal.live_events()[event_id]
    assert event["start"]["dateTime"] == "2026-06-04T14:30:00-05:00"
    assert event["end"]["dateTime"] == "2026-06-04T15:30:00-05:00"
    [booking] = cal.bookings()
    assert (booking.calcom_uid, booking.calendar_event_id) == (NEW_UID, event_id)

    assert reschedule(cal).json() == {"status": "duplicate"}
    cal.run_worker()
    assert len(cal.texts_to(CALLER)) == 2

    # The review request moved with the visit: not at the old time, once at the new one.
    cal.run_worker_at(REVIEW_DUE + timedelta(minutes=1))
    assert cal.review_texts() == []
    cal.run_worker_at(MOVED_END + timedelta(hours=24, minutes=1))
    assert len(cal.review_texts()) == 1
    cal.run_worker_at(MOVED_END + timedelta(days=3))
    assert len(cal.review_texts()) == 1


def test_a_cancellation_removes_the_event_and_the_review_request(cal: BookingLily) -> None:
    cal.book(lead_id=cal.quoted.id)
    cal.run_worker()
    assert list(cal.live_events()) == [calendar_event_id(UID)]

    response = cal.book("BOOKING_CANCELLED")
    cal.run_worker()

    assert response.json() == {"status": "cancelled"}
    assert cal.live_events() == {}
    assert cal.events()[calendar_event_id(UID)]["status"] == "cancelled"
    _, cancelled = cal.texts_to(CALLER)
    assert cancelled.body == (
        "Acme Wash Co: your appointment on Wed, Jun 3 at 10:00 AM CDT is cancelled. "
        "Text us any time to book again."
    )
    [review] = cal.reviews()
    assert review.status == MessageStatus.SUPPRESSED

    # Redelivered, and the clock well past when the review would have gone: nothing more.
    assert cal.book("BOOKING_CANCELLED").json() == {"status": "duplicate"}
    cal.run_worker_at(REVIEW_DUE + timedelta(days=2))
    assert len(cal.texts_to(CALLER)) == 2
    assert cal.review_texts() == []
    assert cal.live_events() == {}
    assert cal.queue_stats().dead == 0


def test_cancelling_a_rescheduled_booking_removes_its_event(cal: BookingLily) -> None:
    cal.book(lead_id=cal.quoted.id)
    reschedule(cal)
    cal.run_worker()

    response = cal.book("BOOKING_CANCELLED", uid=NEW_UID, start=MOVED, end=MOVED_END)
    cal.run_worker()

    assert response.json() == {"status": "cancelled"}
    assert cal.live_events() == {}
    [booking] = cal.bookings()  # synced first after the move: the id comes from the new uid
    assert list(cal.events()) == [booking.calendar_event_id]
    assert "cancelled" in cal.texts_to(CALLER)[-1].body


# -- failures -------------------------------------------------------------------------------


def test_a_calendar_500_is_retried_into_one_event(cal: BookingLily) -> None:
    cal.google.fail_next(500)
    cal.book(lead_id=cal.quoted.id)

    cal.run_worker()  # the insert is idempotent: the provider policy retries it at once

    assert list(cal.live_events()) == [calendar_event_id(UID)]
    inserts = [r for r in cal.google.requests if r.method == "POST"]
    assert len(inserts) == 2  # the failed one and the retry
    assert len(cal.texts_to(CALLER)) == 1
    assert cal.queue_stats().dead == 0

    cal.run_worker_at(after(START, 20))

    assert list(cal.live_events()) == [calendar_event_id(UID)]
    assert len([r for r in cal.google.requests if r.method == "POST"]) == 2
    assert len(cal.texts_to(CALLER)) == 1
    assert cal.queue_stats().dead == 0


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0" * 64,
        sign("another tenant's secret", calcom_body()),
        sign(SECRET, calcom_body(uid="bk_some_other_booking")),
    ],
    ids=["empty", "zeros", "wrong-secret", "other-body"],
)
def test_a_forged_signature_is_403_and_stores_nothing(cal: BookingLily, signature: str) -> None:
    messages_before = cal.count_rows("messages")

    response = cal.post_booking(calcom_body(lead_id=cal.quoted.id), signature)
    cal.run_worker()

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert (cal.count_rows("bookings"), cal.count_rows("webhooks")) == (0, 0)
    assert cal.count_rows("messages") == messages_before
    assert cal.twilio.messages == [] and cal.events() == {}
    assert cal.lead(CALLER).status == LeadStatus.QUOTED


def _with_payload(**changes: Any) -> bytes:
    document = json.loads(calcom_body())
    document["payload"].update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b'"BOOKING_CREATED"',
        b'{"triggerEvent": "BOOKING_CREATED"}',
        b'{"triggerEvent": 7, "payload": {}}',
        json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": []}).encode(),
        _with_payload(uid=None),
        _with_payload(uid={"id": 1}),
        _with_payload(startTime="next tuesday"),
        _with_payload(startTime="2026-06-03T10:00:00"),  # no offset
        _with_payload(endTime="2026-06-03T09:00:00Z"),  # before the start
        _with_payload(endTime=1780000000),
        json.dumps(
            {"triggerEvent": "BOOKING_RESCHEDULED", "payload": json.loads(calcom_body())["payload"]}
        ).encode(),  # no rescheduleUid
    ],
    ids=[
        "empty",
        "not-json",
        "a-string",
        "no-payload",
        "trigger-not-a-string",
        "payload-a-list",
        "uid-null",
        "uid-an-object",
        "start-not-a-time",
        "start-without-offset",
        "end-before-start",
        "end-a-number",
        "reschedule-without-old-uid",
    ],
)
def test_a_payload_of_the_wrong_shape_is_400_and_stores_nothing(
    cal: BookingLily, body: bytes
) -> None:
    response = cal.post_booking(body)
    cal.run_worker()

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}
    assert (cal.count_rows("bookings"), cal.count_rows("webhooks")) == (0, 0)
    assert cal.twilio.messages == [] and cal.events() == {}


def test_a_uid_longer_than_lily_stores_is_400(cal: BookingLily) -> None:
    response = cal.post_booking(_with_payload(uid="u" * 129))

    assert response.status_code == 400
    assert "payload.uid" in response.json()["error"]["message"]
    assert (cal.count_rows("bookings"), cal.count_rows("webhooks")) == (0, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"uid": "u" * 128, "title": "t" * 2000},
        {"attendees": [{"name": "n" * 500, "email": "e" * 300 + "@example.com"}]},
        {"metadata": {"lead_id": "x" * 100}},
        {"metadata": {"lead_id": {"nested": True}}},
        {"attendees": [{"name": 7, "phoneNumber": "not a phone"}]},
    ],
    ids=["longest-uid-long-title", "long-attendee", "long-lead-id", "lead-id-object", "odd-types"],
)
def test_odd_field_values_are_recorded_not_a_500(cal: BookingLily, changes: dict[str, Any]) -> None:
    """Signed envelopes of the right shape whose values our columns or lookups might choke
    on (Postgres enforces column lengths; SQLite does not): recorded, cut to fit."""
    response = cal.post_booking(_with_payload(**changes))
    cal.run_worker()

    assert (response.status_code, response.json()) == (200, {"status": "created"})
    [booking] = cal.bookings()
    assert len(booking.title) <= 500
    assert booking.attendee_name is None or len(booking.attendee_name) <= 200
    assert booking.attendee_email is None or len(booking.attendee_email) <= 254
    assert cal.queue_stats().dead == 0
    assert len(cal.live_events()) == 1


# -- the review request ---------------------------------------------------------------------


def test_the_review_request_waits_out_quiet_hours(cal: BookingLily) -> None:
    # 12 hours after an 11:00 finish is 23:00 in Austin: inside the 21:00-08:00 quiet hours,
    # and Texas allows business texts from 9 am on a weekday (issue 16)
    cal.tenant = cal.update_tenant(review_delay_hours="12")
    due = VISIT_END + timedelta(hours=12)
    morning = datetime(2026, 6, 4, 14, 0, tzinfo=UTC)  # 09:00 CDT
    cal.book(lead_id=cal.quoted.id)
    cal.run_worker()
    assert cal.review_texts() == []

    cal.run_worker_at(due - timedelta(minutes=1))
    assert cal.review_texts() == []
    cal.run_worker_at(due + timedelta(seconds=1))
    assert cal.review_texts() == []  # 23:00 local: deferred
    [review] = cal.reviews()
    assert review.status == MessageStatus.QUEUED
    assert review.send_after is not None
    assert after(morning, JITTER_MIN) <= review.send_after <= after(morning, JITTER_MAX)

    cal.run_worker_at(after(morning, JITTER_MIN - 1))
    assert cal.review_texts() == []
    cal.run_worker_at(after(morning, JITTER_MAX + 1))
    [text] = cal.review_texts()
    assert text == (
        f"Thanks for choosing Acme Wash Co! Would you take a minute to leave us a review? "
        f"{REVIEW_URL} Reply STOP to opt out."
    )
    cal.run_worker_at(morning + timedelta(days=2))
    assert len(cal.review_texts()) == 1
    [review] = cal.reviews()
    assert review.status == MessageStatus.SENT
    assert cal.lead(CALLER).last_review_request_at == review.sent_at


FLORIDA_PHONE = "+13055550123"


def test_a_review_request_due_at_20_30_in_florida_goes_the_next_morning_after_8(
    cal: BookingLily,
) -> None:
    # Fla. Stat. § 501.616(6)(a): 8 am-8 pm. A Miami lead (ZIP 33101, Eastern time) whose
    # visit ends Wednesday 20:30 EDT: the review request is due Thursday 20:30 EDT.
    florida, _ = cal.add_quoted_lead(FLORIDA_PHONE, "33101")
    end = datetime(2026, 6, 4, 0, 30, tzinfo=UTC)  # Wed 20:30 EDT
    due = end + timedelta(hours=24)
    morning = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)  # Fri 08:00 EDT
    cal.book(uid="bk_florida", start=end - timedelta(hours=1), end=end, lead_id=florida.id,
             phone=FLORIDA_PHONE)  # fmt: skip
    cal.run_worker()

    cal.run_worker_at(due + timedelta(seconds=1))
    assert cal.review_texts(FLORIDA_PHONE) == []  # 20:30 in Florida: too late
    [review] = cal.reviews(FLORIDA_PHONE)
    assert review.status == MessageStatus.QUEUED and review.send_after is not None
    assert after(morning, JITTER_MIN) <= review.send_after <= after(morning, JITTER_MAX)

    cal.run_worker_at(morning - timedelta(seconds=1))
    assert cal.review_texts(FLORIDA_PHONE) == []
    cal.run_worker_at(after(morning, JITTER_MAX + 1))
    assert len(cal.review_texts(FLORIDA_PHONE)) == 1
    [review] = cal.reviews(FLORIDA_PHONE)
    assert review.status == MessageStatus.SENT and review.sent_at is not None
    assert review.sent_at >= morning


def test_a_review_request_due_on_a_texas_sunday_at_10_goes_at_noon(cal: BookingLily) -> None:
    # Tex. Bus. & Com. Code § 301.051: noon-9 pm on a Sunday. The lead's ZIP is Austin's.
    end = datetime(2026, 6, 6, 15, 0, tzinfo=UTC)  # Sat 10:00 CDT
    due = end + timedelta(hours=24)  # Sun 10:00 CDT
    noon = datetime(2026, 6, 7, 17, 0, tzinfo=UTC)  # Sun 12:00 CDT
    cal.book(uid="bk_sunday", start=end - timedelta(hours=1), end=end, lead_id=cal.quoted.id)
    cal.run_worker()

    cal.run_worker_at(due + timedelta(seconds=1))
    assert cal.review_texts() == []
    [review] = cal.reviews()
    assert review.send_after is not None
    assert after(noon, JITTER_MIN) <= review.send_after <= after(noon, JITTER_MAX)
    cal.run_worker_at(noon - timedelta(seconds=1))
    assert cal.review_texts() == []
    cal.run_worker_at(after(noon, JITTER_MAX + 1))
    assert len(cal.review_texts()) == 1
    assert cal.reviews()[0].status == MessageStatus.SENT


def test_one_review_request_per_lead_within_the_cooldown(cal: BookingLily) -> None:
    cal.book(lead_id=cal.quoted.id)
    # a second visit booked soon after, while the first review request is still pending
    cal.book(uid="bk_e2e_second", start=MOVED, end=MOVED_END, lead_id=cal.quoted.id)
    cal.run_worker()
    assert len(cal.texts_to(CALLER)) == 2  # two confirmations
    assert len(cal.live_events()) == 2

    cal.run_worker_at(MOVED_END + timedelta(hours=24, minutes=1))
    assert len(cal.review_texts()) == 1

    # a week later another booking: still inside the 90-day cooldown
    week_later = VISIT + timedelta(days=7)
    cal.book(uid="bk_e2e_third", start=week_later, end=week_later + timedelta(hours=1))
    cal.run_worker()
    cal.run_worker_at(week_later + timedelta(days=3))

    assert len(cal.review_texts()) == 1
    assert len(cal.reviews()) == 1
    assert len(cal.texts_to(CALLER)) == 4  # three confirmations and one review request
