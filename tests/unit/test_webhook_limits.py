"""The webhook use cases refuse what Lily cannot keep, against the in-memory fakes: an
identifier wider than its column, a booking time outside the years bookings can have, an
email that lower-casing makes too long. Nothing is stored when they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from lily_core.domain.booking_events import (
    BookingTrigger,
    BookingWebhook,
    require_booking_time,
)
from lily_core.domain.compliance import Jitter
from lily_core.domain.tenant import Tenant
from lily_core.errors import InvalidInput
from lily_core.testing import FakeClock, InMemoryDatabase, InMemoryUnitOfWork
from lily_core.testing.queue import InMemoryJitterQueue
from lily_core.use_cases.bookings import BookingOutcome, HandleBookingWebhook
from lily_core.use_cases.delivery_status import RecordDeliveryStatus
from lily_core.use_cases.inbound import HandleInboundSms, InboundSms
from lily_core.use_cases.missed_call import HandleVoiceCall, VoiceEvent

NOW = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
CALLER = "+15125550123"


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture
def tenant(db: InMemoryDatabase) -> Tenant:
    tenant = Tenant(name="Acme", slug="acme", phone="+15125550100", created_at=NOW,
                    review_url="https://g.page/r/acme/review")  # fmt: skip
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        uow.tenants.add(tenant)
        uow.commit()
    return tenant


def rows(db: InMemoryDatabase) -> int:
    return sum(len(table) for name, table in db.tables.items() if name != "tenants")


def refused(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        call()  # type: ignore[operator]
    assert raised.value.field == field


def test_a_message_sid_longer_than_64_is_refused(db: InMemoryDatabase, tenant: Tenant) -> None:
    clock = FakeClock(NOW)
    use = HandleInboundSms(InMemoryUnitOfWork(db), InMemoryJitterQueue(clock), clock)
    sms = InboundSms(message_sid="SM" + "a" * 63, from_number=CALLER, body="hi")

    refused(lambda: use(tenant, sms), "MessageSid")
    assert rows(db) == 0


def test_a_call_sid_longer_than_64_is_refused(db: InMemoryDatabase, tenant: Tenant) -> None:
    clock = FakeClock(NOW)
    use = HandleVoiceCall(InMemoryUnitOfWork(db), InMemoryJitterQueue(clock), clock, Jitter(10, 45))
    event = VoiceEvent("CA" + "b" * 63, CALLER, "in-progress", "no-answer")

    refused(lambda: use(tenant, event), "CallSid")
    assert rows(db) == 0


@pytest.mark.parametrize(
    ("sid", "error_code", "field"),
    [("SM" + "c" * 63, None, "MessageSid"), ("SM" + "c" * 32, "3" * 33, "ErrorCode")],
)
def test_a_status_callback_with_an_over_long_sid_or_code_is_refused(
    db: InMemoryDatabase, tenant: Tenant, sid: str, error_code: str | None, field: str
) -> None:
    use = RecordDeliveryStatus(InMemoryUnitOfWork(db), FakeClock(NOW))

    refused(lambda: use(tenant, sid, "failed", error_code), field)


def booking(**changes: object) -> BookingWebhook:
    start = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)
    event = BookingWebhook(trigger=BookingTrigger.BOOKING_CREATED, raw_trigger="BOOKING_CREATED",
                           uid="bk_1", start=start, end=start + timedelta(hours=1),
                           attendee_phone=CALLER)  # fmt: skip
    return attrs.evolve(event, **changes)


def handle(db: InMemoryDatabase, tenant: Tenant, event: BookingWebhook) -> BookingOutcome:
    clock = FakeClock(NOW)
    use = HandleBookingWebhook(InMemoryUnitOfWork(db), InMemoryJitterQueue(clock), clock)
    return use(tenant, event).outcome


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end": datetime.max.replace(tzinfo=UTC)}, "payload.endTime"),  # review due overflows
        ({"start": datetime.min.replace(tzinfo=UTC)}, "payload.startTime"),
        ({"start": datetime(1969, 12, 31, tzinfo=UTC)}, "payload.startTime"),
    ],
)
def test_a_booking_time_outside_1970_to_2200_is_refused(
    db: InMemoryDatabase, tenant: Tenant, changes: dict[str, object], field: str
) -> None:
    refused(lambda: handle(db, tenant, booking(**changes)), field)
    assert rows(db) == 0


def test_require_booking_time_compares_before_converting() -> None:
    # 9999-12-31T23:59:59-14:00 is past datetime.max in UTC: converting it first overflows
    edge = datetime.fromisoformat("9999-12-31T23:59:59-14:00")
    refused(lambda: require_booking_time(edge, field="payload.endTime"), "payload.endTime")
    moment = datetime.fromisoformat("2026-06-03T10:00:00-05:00")
    assert require_booking_time(moment, field="t") == datetime(2026, 6, 3, 15, 0, tzinfo=UTC)


def test_an_email_that_lower_casing_makes_too_long_is_left_off_the_lead(
    db: InMemoryDatabase, tenant: Tenant
) -> None:
    email = "İ" * 242 + "@example.com"  # 254 characters; "İ".lower() is two

    assert handle(db, tenant, booking(attendee_email=email)) == BookingOutcome.CREATED
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        lead = uow.leads.get_by_phone(tenant.id, CALLER)
    assert lead is not None and lead.email is None
