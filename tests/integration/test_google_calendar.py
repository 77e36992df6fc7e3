"""GoogleCalendar's wire behaviour against the Google stand-in: auth, request shape, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lily_adapters.google_calendar import GoogleCalendar
from lily_core.domain.booking_events import calendar_event_id
from lily_core.errors import InvalidInput, PermanentDeliveryError, TransientDeliveryError
from lily_core.ports.providers import CalendarEvent
from tests.standins.google import (
    DEFAULT_CALENDAR,
    GoogleStandIn,
    ServiceAccountKey,
    running_google,
    write_service_account_key,
)

START = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
EVENT = CalendarEvent(
    summary="House wash estimate",
    description="Customer: Pat Customer\nPhone: +15125550100",
    start=START,
    end=START + timedelta(hours=1),
    timezone="America/Chicago",
    location="123 Main St, Austin TX",
)
EVENT_ID = calendar_event_id("bk_7f3c9a")


@pytest.fixture
def google(tmp_path: Path) -> Iterator[tuple[GoogleStandIn, ServiceAccountKey]]:
    with running_google(tmp_path) as started:
        yield started


@pytest.fixture
def standin(google: tuple[GoogleStandIn, ServiceAccountKey]) -> GoogleStandIn:
    return google[0]


@pytest.fixture
def calendar(google: tuple[GoogleStandIn, ServiceAccountKey]) -> Iterator[GoogleCalendar]:
    standin, key = google
    with GoogleCalendar(str(key.path), api_url=standin.calendar_api_url) as adapter:
        yield adapter


def test_insert_sends_the_event_in_the_calendar_v3_shape(
    standin: GoogleStandIn, calendar: GoogleCalendar
) -> None:
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    request = standin.requests[-1]
    assert (request.method, request.path) == (
        "POST",
        "/calendars/crew%40group.calendar.google.com/events",
    )
    body = json.loads(request.body)
    assert body == {
        "id": EVENT_ID,
        "status": "confirmed",
        "summary": "House wash estimate",
        "description": "Customer: Pat Customer\nPhone: +15125550100",
        "location": "123 Main St, Austin TX",
        "start": {"dateTime": "2026-12-01T10:00:00-06:00", "timeZone": "America/Chicago"},
        "end": {"dateTime": "2026-12-01T11:00:00-06:00", "timeZone": "America/Chicago"},
    }


def test_the_token_is_fetched_once_and_reused(
    standin: GoogleStandIn, calendar: GoogleCalendar
) -> None:
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    assert standin.token_requests == 1
    assert {r.headers["authorization"] for r in standin.requests} == {
        f"Bearer {next(iter(standin.issued_tokens))}"
    }


def test_a_token_about_to_expire_is_refreshed(
    standin: GoogleStandIn, calendar: GoogleCalendar
) -> None:
    standin.token_expires_in = 60  # inside google-auth's refresh margin: never "valid"

    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    assert standin.token_requests == 2


def test_a_revoked_token_is_replaced_once(standin: GoogleStandIn, calendar: GoogleCalendar) -> None:
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    standin.revoke_tokens()

    calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    assert standin.token_requests == 2
    assert standin.live_events(DEFAULT_CALENDAR) == {}


def test_a_key_the_token_server_does_not_trust_is_a_permanent_failure(
    standin: GoogleStandIn, tmp_path: Path
) -> None:
    stranger_dir = tmp_path / "stranger"
    stranger_dir.mkdir()
    # Same client_email as the trusted key, signed by another private key.
    stranger = write_service_account_key(stranger_dir, standin.token_uri, key_index=1)

    with (
        GoogleCalendar(str(stranger.path), api_url=standin.calendar_api_url) as adapter,
        pytest.raises(PermanentDeliveryError, match="token"),
    ):
        adapter.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    assert standin.requests == []


def test_upsert_of_an_existing_event_replaces_it_with_put(
    standin: GoogleStandIn, calendar: GoogleCalendar
) -> None:
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    assert [r.method for r in standin.requests] == ["POST", "POST", "PUT"]
    assert standin.events[DEFAULT_CALENDAR][EVENT_ID]["sequence"] == 1


def test_deleted_event_is_confirmed_again_by_upsert(
    standin: GoogleStandIn, calendar: GoogleCalendar
) -> None:
    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)
    assert standin.events[DEFAULT_CALENDAR][EVENT_ID]["status"] == "cancelled"

    calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    assert standin.events[DEFAULT_CALENDAR][EVENT_ID]["status"] == "confirmed"


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        (500, "backendError", TransientDeliveryError),
        (503, "backendError", TransientDeliveryError),
        (429, "rateLimitExceeded", TransientDeliveryError),
        (403, "rateLimitExceeded", TransientDeliveryError),
        (403, "forbidden", PermanentDeliveryError),
        (400, "invalid", PermanentDeliveryError),
    ],
)
def test_errors_map_to_transient_or_permanent(
    standin: GoogleStandIn,
    calendar: GoogleCalendar,
    status: int,
    reason: str,
    error: type[Exception],
) -> None:
    standin.fail_next(status, reason)

    with pytest.raises(error) as raised:
        calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    assert getattr(raised.value, "code", None) == str(status)


def test_429_carries_retry_after(standin: GoogleStandIn, calendar: GoogleCalendar) -> None:
    standin.fail_next(429)

    with pytest.raises(TransientDeliveryError) as raised:
        calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    assert raised.value.retry_after == 7


def test_an_unknown_calendar_is_permanent(calendar: GoogleCalendar) -> None:
    with pytest.raises(PermanentDeliveryError, match="404"):
        calendar.upsert_event("nobody@group.calendar.google.com", EVENT_ID, EVENT)


def test_an_unreachable_api_is_transient(google: tuple[GoogleStandIn, ServiceAccountKey]) -> None:
    _, key = google
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    with (
        GoogleCalendar(str(key.path), api_url="http://127.0.0.1:9/calendar/v3") as adapter,
        pytest.raises(TransientDeliveryError, match="unreachable"),
    ):
        adapter.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)


def test_a_missing_key_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        GoogleCalendar(str(tmp_path / "nope.json"))

    assert raised.value.field == "LILY_GOOGLE_SERVICE_ACCOUNT_FILE"
