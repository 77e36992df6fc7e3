"""The database is the source of truth for what must be done: a Redis that loses every
task (FLUSHDB, as after a restart without persistence) loses no text-back, no photo copy
and no calendar sync."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import redis
from dependency_injector import providers

from lily_adapters.container import build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_core.domain.booking_events import calendar_event_id
from lily_core.domain.leads import Direction, Lead, Message, MessageKind, MessageStatus
from lily_core.domain.records import Booking
from lily_core.testing import FakeClock
from lily_core.use_cases.calendar_sync import enqueue_calendar_sync
from lily_core.use_cases.copy_media import enqueue_copy_media
from lily_core.use_cases.missed_call import CallOutcome, VoiceEvent
from lily_worker.wiring import build_worker
from tests.standins.google import DEFAULT_CALENDAR, running_google
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

pytestmark = pytest.mark.redis


def test_a_flushed_redis_loses_no_committed_message(tmp_path: Path, redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()
    db_url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(db_url)
    container = build_container(
        Settings(database_url=db_url, redis_url=redis_url, data_dir=tmp_path, _env_file=None)
    )
    clock = FakeClock()
    container.clock.override(providers.Object(clock))
    tenant = container.onboard_tenant()(name="Acme Wash Co", phone="+12145550100")
    result = container.handle_voice_call()(
        tenant, VoiceEvent("CA" + "1" * 32, "+12145550123", "no-answer", None)
    )
    assert result.outcome == CallOutcome.MISSED
    queue = container.queue()
    assert queue.stats().scheduled == 1

    redis.Redis.from_url(redis_url).flushdb()  # the queue forgets everything
    assert queue.stats().scheduled == 0

    clock.advance(minutes=5)  # past the jitter and the reconciler's grace
    assert container.reconcile_outbox()() == 1
    assert container.reconcile_outbox()() == 0  # its task is queued again: no double
    build_worker(container).run_burst()

    uow = container.uow()
    with uow.across_tenants():
        message = uow.messages.get(tenant.id, result.message_id)
        assert message is not None and message.status == MessageStatus.SANDBOX
    assert container.reconcile_outbox()() == 0  # sent: nothing left to reconcile
    assert queue.stats() == type(queue.stats())(0, 0, 0, 0)
    container.shutdown_resources()


def test_a_flushed_redis_loses_no_photo_copy_nor_calendar_sync(
    tmp_path: Path, redis_url: str
) -> None:
    """COPY_MEDIA and CALENDAR_SYNC tasks come back from the database's own state (photos
    not yet copied, bookings ahead of their calendar), once each, and run once."""
    redis.Redis.from_url(redis_url).flushdb()
    with TwilioStandIn() as twilio, running_google(tmp_path) as (google, key):
        db_url = f"sqlite:///{tmp_path / 'lily.db'}"
        migrate.upgrade(db_url)
        container = build_container(
            Settings(
                database_url=db_url, redis_url=redis_url, data_dir=tmp_path, _env_file=None,
                twilio_account_sid=DEFAULT_ACCOUNT_SID, twilio_auth_token=DEFAULT_AUTH_TOKEN,
                twilio_api_url=twilio.url, google_service_account_file=key.path,
                google_calendar_api_url=google.calendar_api_url,
            )
        )  # fmt: skip
        clock = FakeClock()
        container.clock.override(providers.Object(clock))
        tenant = container.onboard_tenant()(name="Acme Wash Co", phone="+12145550100")
        url = twilio.add_media("image/jpeg", b"\xff\xd8a photo")
        now = clock.now()
        uow = container.uow()
        with uow.for_tenant(tenant.id):
            shop = uow.tenants.get(tenant.id)
            assert shop is not None
            shop.google_calendar_id = DEFAULT_CALENDAR
            lead = Lead(tenant_id=tenant.id, phone="+12145550123", created_at=now)
            uow.leads.add(lead)
            message = Message(
                tenant_id=tenant.id, lead_id=lead.id, direction=Direction.INBOUND,
                kind=MessageKind.INBOUND, body="", status=MessageStatus.RECEIVED,
                media=[{"url": url, "content_type": "image/jpeg"}],
                provider_sid="MM" + "2" * 32, created_at=now, updated_at=now,
            )  # fmt: skip
            uow.messages.add(message)
            booking = Booking(
                tenant_id=tenant.id, lead_id=lead.id, calcom_uid="bk_flushed",
                title="Estimate", start_at=now + timedelta(days=2),
                end_at=now + timedelta(days=2, hours=1), created_at=now, updated_at=now,
            )  # fmt: skip
            uow.bookings.add(booking)
            uow.commit()
        queue = container.queue()
        enqueue_copy_media(queue, message, now)
        enqueue_calendar_sync(queue, booking, now)
        assert queue.stats().due == 2
        redis.Redis.from_url(redis_url).flushdb()  # the queue forgets both

        clock.advance(minutes=5)  # past the reconciler's grace
        done = container.reconcile_outbox().reconcile()
        assert (done.photos, done.calendar, done.total) == (1, 1, 2)
        again = container.reconcile_outbox().reconcile()
        assert again.total == 0  # their tasks are queued: enqueued twice is a no-op
        build_worker(container).run_burst()

        with uow.for_tenant(tenant.id):
            copied = uow.messages.get(tenant.id, message.id)
            synced = uow.bookings.get(tenant.id, booking.id)
            assert copied is not None and synced is not None
            assert copied.media[0].get("stored_key")
            assert synced.calendar_synced_at == synced.updated_at
        media_gets = [r for r in twilio.requests if "/Media/" in r.path]
        assert len(media_gets) == 1  # the photo was fetched once
        assert list(google.live_events(DEFAULT_CALENDAR)) == [calendar_event_id("bk_flushed")]
        assert len([r for r in google.requests if r.method == "POST"]) == 1  # inserted once

        clock.advance(minutes=5)
        assert container.reconcile_outbox().reconcile().total == 0  # nothing owed any more
        assert queue.stats() == type(queue.stats())(0, 0, 0, 0)
        container.shutdown_resources()
