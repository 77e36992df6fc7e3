"""The provider policy (issue 13) on every provider but Twilio's sends (those are in
test_provider_policy.py): Google Calendar, Chatwoot, Stripe and the photo fetch, over HTTP
against their stand-ins. An outage opens the provider's circuit, after which calls fail fast
without reaching it; the worker defers a task whose provider is failing instead of counting
its attempts, so nothing is dead-lettered; recovery does the work once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lily_adapters.chatwoot import HttpChatwootClient
from lily_adapters.google_calendar import GoogleCalendar
from lily_adapters.provider_policy import ProviderPolicy
from lily_adapters.stripe import StripePaymentGateway
from lily_adapters.twilio import TwilioMediaFetcher
from lily_core.domain.billing import Plan
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryOutcomeUnknown,
    PermanentDeliveryError,
    ProviderUnavailable,
    TransientDeliveryError,
)
from lily_core.ports.providers import CalendarEvent
from lily_core.ports.queue import Task, TaskType
from lily_core.testing import FakeClock
from lily_core.testing.queue import InMemoryJitterQueue
from lily_worker.worker import Worker
from tests.standins.chatwoot import ChatwootStandIn, ScriptedFailure
from tests.standins.google import DEFAULT_CALENDAR, GoogleStandIn, running_google
from tests.standins.stripe import DEFAULT_API_KEY, StripeStandIn
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

START = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
EVENT = CalendarEvent(
    summary="House wash estimate", description="Customer: Pat", start=START,
    end=START + timedelta(hours=1), timezone="America/Chicago", location=None,
)  # fmt: skip
TENANT = Tenant(
    name="Sparkle Wash", slug="sparkle-wash", phone="+15125550199", chatwoot_account_id=3,
    chatwoot_inbox_id=9, created_at=datetime(2026, 6, 1, tzinfo=UTC),
)  # fmt: skip
CW_TOKEN = "cw-agent-token"


def policy(**options: Any) -> ProviderPolicy:
    return ProviderPolicy(**{"sends_per_second": None, "attempts": 1, **options})


@pytest.fixture
def google(tmp_path: Path) -> Iterator[tuple[GoogleStandIn, Callable[..., GoogleCalendar]]]:
    with running_google(tmp_path) as (standin, key):
        made: list[GoogleCalendar] = []

        def calendar(**options: Any) -> GoogleCalendar:
            made.append(
                GoogleCalendar(
                    str(key.path), api_url=standin.calendar_api_url, policy=policy(**options)
                )
            )
            return made[-1]

        yield standin, calendar
        for adapter in made:
            adapter.close()


def api_calls(standin: GoogleStandIn) -> int:
    return len(standin.requests)


# -- Google Calendar ----------------------------------------------------------------------


def test_a_google_outage_opens_the_circuit_then_calls_fail_fast(
    google: tuple[GoogleStandIn, Callable[..., GoogleCalendar]],
) -> None:
    standin, make = google
    calendar = make(fail_max=3, reset_timeout=60)
    for _ in range(3):
        standin.fail_next(503)
    for _ in range(2):
        with pytest.raises(TransientDeliveryError) as raised:
            calendar.upsert_event(DEFAULT_CALENDAR, "evt0001", EVENT)
        assert not isinstance(raised.value, ProviderUnavailable)
        assert raised.value.code == "503"  # the provider's code is kept
    with pytest.raises(ProviderUnavailable) as raised:  # the third opens it: deferred
        calendar.upsert_event(DEFAULT_CALENDAR, "evt0001", EVENT)
    assert raised.value.code == "503"
    assert api_calls(standin) == 3

    with pytest.raises(ProviderUnavailable):
        calendar.delete_event(DEFAULT_CALENDAR, "evt0001")
    assert api_calls(standin) == 3  # not called
    assert standin.live_events(DEFAULT_CALENDAR) == {}


def test_google_recovers_and_inserts_once(
    google: tuple[GoogleStandIn, Callable[..., GoogleCalendar]],
) -> None:
    standin, make = google
    calendar = make(fail_max=2, reset_timeout=0.3)
    for _ in range(2):
        standin.fail_next(500)
    with pytest.raises(TransientDeliveryError):
        calendar.upsert_event(DEFAULT_CALENDAR, "evt0002", EVENT)
    with pytest.raises(ProviderUnavailable):
        calendar.upsert_event(DEFAULT_CALENDAR, "evt0002", EVENT)
    time.sleep(0.4)
    calendar.upsert_event(DEFAULT_CALENDAR, "evt0002", EVENT)  # the half-open trial
    calendar.upsert_event(DEFAULT_CALENDAR, "evt0002", EVENT)  # closed: an update
    assert list(standin.live_events(DEFAULT_CALENDAR)) == ["evt0002"]


def test_google_calls_are_idempotent_so_any_transient_failure_is_retried(
    google: tuple[GoogleStandIn, Callable[..., GoogleCalendar]],
) -> None:
    standin, make = google
    calendar = make(attempts=3)
    standin.fail_next(503)
    standin.fail_next(500)
    calendar.upsert_event(DEFAULT_CALENDAR, "evt0003", EVENT)
    assert api_calls(standin) == 3
    assert list(standin.live_events(DEFAULT_CALENDAR)) == ["evt0003"]

    standin.fail_next(400)  # a refusal is not retried, nor counted by the breaker
    with pytest.raises(PermanentDeliveryError):
        calendar.upsert_event(DEFAULT_CALENDAR, "evt0004", EVENT)
    assert api_calls(standin) == 4


def test_the_worker_defers_calendar_syncs_through_an_outage_and_dead_letters_none(
    google: tuple[GoogleStandIn, Callable[..., GoogleCalendar]],
) -> None:
    """Two attempts at most: without the breaker the outage would dead-letter every task;
    with it the tasks wait, and each event is inserted once when Google is back."""
    standin, make = google
    calendar = make(fail_max=2, reset_timeout=1.0)
    clock = FakeClock()
    queue = InMemoryJitterQueue(clock)

    def sync(task: Task) -> None:
        calendar.upsert_event(DEFAULT_CALENDAR, str(task.payload["event_id"]), EVENT)

    handlers = {TaskType.CALENDAR_SYNC: sync}
    worker = Worker(queue, handlers, clock, max_attempts=2, concurrency=1)
    ids = [f"evt{i:04d}" for i in range(10, 15)]
    for event_id in ids:
        queue.enqueue(
            TaskType.CALENDAR_SYNC, tenant_id="t1", payload={"event_id": event_id},
            run_at=clock.now(),
        )  # fmt: skip
    standin.go_down()
    for _ in range(10):  # 10 minutes of the fake clock: every task due again and again
        worker.run_burst()
        clock.advance(minutes=1)
    failed = api_calls(standin)
    assert failed == 2  # the two that opened the circuit; then no call
    assert queue.stats().dead == 0
    assert standin.live_events(DEFAULT_CALENDAR) == {}

    standin.come_back()
    for _ in range(20):
        time.sleep(0.35)  # the breaker's reset timeout (1 s) is real time
        clock.advance(minutes=1)
        worker.run_burst()
        if len(standin.live_events(DEFAULT_CALENDAR)) == len(ids):
            break

    assert sorted(standin.live_events(DEFAULT_CALENDAR)) == ids
    inserts = [r for r in standin.requests if r.method == "POST"]
    assert len(inserts) == failed + len(ids)  # those that failed, then one insert each
    stats = queue.stats()
    assert (stats.dead, stats.scheduled, stats.in_flight) == (0, 0, 0)


# -- Chatwoot -----------------------------------------------------------------------------


@pytest.fixture
def chatwoot() -> Iterator[ChatwootStandIn]:
    with ChatwootStandIn(api_token=CW_TOKEN) as stand_in:
        yield stand_in


def test_a_chatwoot_outage_opens_the_circuit_and_recovery_posts_once(
    chatwoot: ChatwootStandIn,
) -> None:
    with HttpChatwootClient(
        chatwoot.url, CW_TOKEN, timeout=5.0, policy=policy(fail_max=2, reset_timeout=0.3)
    ) as client:
        chatwoot.fail_next.extend([ScriptedFailure(502), ScriptedFailure(502)])
        with pytest.raises(TransientDeliveryError) as raised:
            client.reply(TENANT, 77, "hello")
        assert raised.value.code == "502"
        with pytest.raises(ProviderUnavailable):
            client.reply(TENANT, 77, "hello")
        with pytest.raises(ProviderUnavailable):
            client.reply(TENANT, 77, "hello")
        assert len(chatwoot.requests) == 2  # the open circuit called nothing

        time.sleep(0.4)
        client.reply(TENANT, 77, "hello")
        client.reply(TENANT, 77, "again")
    assert [m.content for m in chatwoot.messages] == ["hello", "again"]


def test_chatwoot_retries_what_did_nothing_but_never_a_lost_answer(
    chatwoot: ChatwootStandIn,
) -> None:
    with HttpChatwootClient(
        chatwoot.url, CW_TOKEN, timeout=0.3, policy=policy(attempts=3)
    ) as client:
        chatwoot.fail_next.extend([ScriptedFailure(503), ScriptedFailure(429, retry_after="1")])
        client.reply(TENANT, 77, "hello")
        assert len(chatwoot.requests) == 3
        assert [m.content for m in chatwoot.messages] == ["hello"]

        # Chatwoot takes no idempotency key: a reply whose answer is lost may have posted
        chatwoot.fail_next.append(ScriptedFailure(200, delay_seconds=1.0))
        with pytest.raises(DeliveryOutcomeUnknown):
            client.reply(TENANT, 77, "once")
        assert len(chatwoot.requests) == 4


# -- Stripe -------------------------------------------------------------------------------


def test_a_stripe_outage_fails_fast_and_recovery_creates_once() -> None:
    prices = {Plan.STARTER: "price_starter", Plan.PRO: "price_pro"}
    with StripeStandIn() as stripe:
        gateway = StripePaymentGateway(
            DEFAULT_API_KEY, api_url=stripe.url, prices=prices, max_network_retries=0,
            policy=policy(fail_max=2, reset_timeout=0.3),
        )  # fmt: skip
        stripe.fail_next(500)
        stripe.fail_next(503)
        with pytest.raises(TransientDeliveryError):
            gateway.create_customer(TENANT)
        with pytest.raises(ProviderUnavailable):  # the second failure opens it
            gateway.create_customer(TENANT)
        with pytest.raises(ProviderUnavailable):
            gateway.latest_subscription("cus_x")
        assert len(stripe.requests) == 2  # not called while open

        time.sleep(0.4)
        first = gateway.create_customer(TENANT)
        assert gateway.create_customer(TENANT) == first  # the same idempotency key
        assert list(stripe.customers) == [first]
        gateway.close()


def test_stripes_own_retries_are_the_bounded_ones() -> None:
    """stripe-python retries with the same idempotency key; the policy adds no retry."""
    prices = {Plan.STARTER: "price_starter", Plan.PRO: "price_pro"}
    with StripeStandIn() as stripe:
        gateway = StripePaymentGateway(
            DEFAULT_API_KEY, api_url=stripe.url, prices=prices, max_network_retries=1,
            policy=policy(attempts=5, fail_max=100),
        )  # fmt: skip
        for _ in range(5):
            stripe.fail_next(500)
        with pytest.raises(TransientDeliveryError):
            gateway.create_customer(TENANT)
        assert len(stripe.requests) == 2  # one try and stripe-python's one retry
        gateway.close()


# -- the photo fetch ----------------------------------------------------------------------


def test_a_twilio_media_outage_defers_photo_copies_and_recovery_fetches_once() -> None:
    with TwilioStandIn() as twilio:
        fetcher = TwilioMediaFetcher(
            DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, 5.0, api_url=twilio.url,
            policy=policy(fail_max=2, reset_timeout=1.0),
        )  # fmt: skip
        url = twilio.add_media("image/jpeg", b"\xff\xd8jpeg")
        clock = FakeClock()
        queue = InMemoryJitterQueue(clock)
        fetched: list[bytes] = []

        def copy(task: Task) -> None:
            fetched.append(fetcher.fetch(TENANT, url, max_bytes=1024).data)

        handlers = {TaskType.COPY_MEDIA: copy}
        worker = Worker(queue, handlers, clock, max_attempts=2, concurrency=1)
        queue.enqueue(TaskType.COPY_MEDIA, tenant_id="t1", payload={}, run_at=clock.now())
        twilio.go_down()
        for _ in range(6):
            worker.run_burst()
            clock.advance(minutes=1)
        assert queue.stats().dead == 0  # six runs where two attempts are allowed
        assert len(twilio.requests) == 2  # the two that opened the circuit

        twilio.come_back()
        for _ in range(10):
            time.sleep(0.35)
            clock.advance(minutes=1)
            worker.run_burst()
            if fetched:
                break
        assert fetched == [b"\xff\xd8jpeg"]
        assert (queue.stats().dead, queue.stats().scheduled) == (0, 0)
        fetcher.close()


def test_a_media_fetch_is_a_get_so_any_transient_failure_is_retried() -> None:
    with TwilioStandIn() as twilio:
        fetcher = TwilioMediaFetcher(
            DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, 5.0, api_url=twilio.url,
            policy=policy(attempts=3),
        )  # fmt: skip
        url = twilio.add_media("image/png", b"png")
        twilio.fail_next(503, 20503)
        twilio.fail_next(500, 20500)
        assert fetcher.fetch(TENANT, url, max_bytes=1024).data == b"png"
        fetcher.close()


def test_media_elsewhere_has_a_breaker_per_host_apart_from_twilios() -> None:
    shared = policy(fail_max=1)
    fetcher = TwilioMediaFetcher(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, 5.0, policy=shared)
    with pytest.raises(ProviderUnavailable):  # nothing listens there: the circuit opens
        fetcher.fetch(TENANT, "http://127.0.0.1:9/attachment.jpg", max_bytes=1024)
    assert shared.breaker("media", "127.0.0.1:9").current_state == "open"
    assert shared.breaker("twilio_media", DEFAULT_ACCOUNT_SID).current_state == "closed"
    fetcher.close()
