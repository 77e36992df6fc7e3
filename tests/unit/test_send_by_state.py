"""Issue 16 at the send path: SendMessage, over random recipients' ZIPs (states and
timezones), tenant quiet hours and instants (DST changes included), never sends a
business-initiated text outside the recipient's window, and defers it into the window."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import event, given, settings
from hypothesis import strategies as st

from lily_core.domain.compliance import Jitter
from lily_core.domain.geo import lookup_zip
from lily_core.domain.leads import Lead, MessageKind
from lily_core.domain.state_rules import allowed_window
from lily_core.domain.tenant import QuietHours, Tenant
from lily_core.testing import (
    FakeClock,
    FakeSmsSender,
    InMemoryDatabase,
    InMemoryJitterQueue,
    InMemoryUnitOfWork,
)
from lily_core.use_cases.outbox import enqueue_send, open_conversation, queue_message
from lily_core.use_cases.send_message import SendMessage, SendOutcome

ZIPS = ["33101", "73102", "21201", "98101", "78701", "39201", "02903", "10001", "90001",
        "60601", "85001", "96813", "99501"]  # fmt: skip
QUIET = st.sampled_from(
    [QuietHours(time(21), time(8)), QuietHours(time(22), time(7)), QuietHours(time(18), time(10))]
)
INSTANTS = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    # around the 2026 US DST changes
    st.datetimes(min_value=datetime(2026, 3, 7), max_value=datetime(2026, 3, 10)),
    st.datetimes(min_value=datetime(2026, 10, 31), max_value=datetime(2026, 11, 3)),
).map(lambda d: d.replace(tzinfo=UTC))


def _inside(instant: datetime, zip_code: str, quiet: QuietHours) -> bool:
    info = lookup_zip(zip_code)
    assert info is not None and info.timezone is not None

    local = instant.astimezone(ZoneInfo(info.timezone))
    window = allowed_window(info.state, local.date())
    wall = local.time().replace(tzinfo=None)
    return window is not None and window.contains(wall) and not quiet.contains(wall)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZIPS), QUIET, INSTANTS)
def test_no_business_text_leaves_outside_the_recipients_window(
    zip_code: str, quiet: QuietHours, now: datetime
) -> None:
    db, clock = InMemoryDatabase(), FakeClock(now)
    queue, sms = InMemoryJitterQueue(clock), FakeSmsSender()
    tenant = Tenant(name="Acme", slug="acme", phone="+12145550100", created_at=now)
    tenant.quiet_hours = quiet
    with InMemoryUnitOfWork(db).across_tenants() as uow:
        uow.tenants.add(tenant)
        lead = Lead(tenant_id=tenant.id, phone="+15555550123", zip=zip_code, created_at=now)
        uow.leads.add(lead)
        conversation = open_conversation(uow, tenant, lead, now)
        message = queue_message(
            uow, lead, conversation, kind=MessageKind.REVIEW_REQUEST, body="Review us?",
            now=now, business_initiated=True,
        )  # fmt: skip
        uow.commit()
    enqueue_send(queue, message, now)
    send = SendMessage(
        InMemoryUnitOfWork(db), queue, clock, sms, status_callback_url=None,
        jitter=Jitter(10, 45), max_attempts=5,
    )  # fmt: skip

    for _ in range(20):  # follow the deferrals until it goes
        [task] = queue.claim(1, lease_seconds=30)
        outcome = send(task)
        queue.ack(task.id)
        if outcome == SendOutcome.SENT:
            event("sent at once" if clock.now() == now else "sent after a deferral")
            break
        assert outcome == SendOutcome.DEFERRED
        assert not _inside(clock.now(), zip_code, quiet)
        with InMemoryUnitOfWork(db).for_tenant(tenant.id) as uow:
            deferred = uow.messages.get(tenant.id, message.id)
            assert deferred is not None and deferred.send_after is not None
            due = deferred.send_after
        assert _inside(due, zip_code, quiet)  # deferred into the window, never past it
        assert due - clock.now() < timedelta(days=4)
        clock.current = due + timedelta(seconds=1)
    else:
        raise AssertionError("never sent")
    assert len(sms.sent) == 1
    assert _inside(clock.now(), zip_code, quiet)
