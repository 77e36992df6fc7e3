"""The Calendar port's contract, run against FakeCalendar and GoogleCalendar (over HTTP to
the Google stand-in), so the fake keeps behaving like the real adapter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import attrs
import pytest

from lily_adapters.google_calendar import GoogleCalendar
from lily_core.domain.booking_events import calendar_event_id
from lily_core.errors import TransientDeliveryError
from lily_core.ports.providers import Calendar, CalendarEvent
from lily_core.testing.fakes import FakeCalendar
from tests.standins.google import DEFAULT_CALENDAR, GoogleStandIn, running_google

OTHER_CALENDAR = "owner@sparklewash.example"


@attrs.frozen
class Seen:
    """What can be observed of a stored event, whatever stores it."""

    summary: str
    description: str
    location: str | None
    start: datetime
    end: datetime


class Harness(Protocol):
    calendar: Calendar

    def events(self, calendar_id: str) -> dict[str, Seen]: ...
    def fail_next_transiently(self) -> None: ...


class FakeHarness:
    def __init__(self) -> None:
        self.fake = FakeCalendar()
        self.calendar: Calendar = self.fake

    def events(self, calendar_id: str) -> dict[str, Seen]:
        return {
            eid: Seen(e.summary, e.description, e.location, e.start, e.end)
            for eid, e in self.fake.events.get(calendar_id, {}).items()
        }

    def fail_next_transiently(self) -> None:
        self.fake.fail_next.append(TransientDeliveryError("scripted"))


class GoogleHarness:
    def __init__(self, google: GoogleStandIn, calendar: GoogleCalendar) -> None:
        self.google = google
        self.calendar: Calendar = calendar

    def events(self, calendar_id: str) -> dict[str, Seen]:
        def when(value: dict[str, str]) -> datetime:
            return datetime.fromisoformat(value["dateTime"]).astimezone(UTC)

        return {
            eid: Seen(
                e["summary"], e["description"], e.get("location"), when(e["start"]), when(e["end"])
            )
            for eid, e in self.google.live_events(calendar_id).items()
        }

    def fail_next_transiently(self) -> None:
        self.google.fail_next(503)


@pytest.fixture(params=["fake", "google"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fake":
        yield FakeHarness()
        return
    with running_google(tmp_path) as (google, key):
        google.add_calendar(OTHER_CALENDAR)
        with GoogleCalendar(str(key.path), api_url=google.calendar_api_url) as adapter:
            yield GoogleHarness(google, adapter)


START = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
EVENT = CalendarEvent(
    summary="House wash estimate — Pat Customer",
    description="Customer: Pat Customer\nPhone: +15125550100\nQuote: https://lily.example/q/1",
    start=START,
    end=START + timedelta(hours=1),
    timezone="America/Chicago",
    location="123 Main St, Austin TX",
)
EVENT_ID = calendar_event_id("bk_7f3c9a")


def seen(event: CalendarEvent) -> Seen:
    return Seen(event.summary, event.description, event.location, event.start, event.end)


def test_upsert_creates_the_event(harness: Harness) -> None:
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    assert harness.events(DEFAULT_CALENDAR) == {EVENT_ID: seen(EVENT)}


def test_upserting_twice_keeps_one_event(harness: Harness) -> None:
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    assert list(harness.events(DEFAULT_CALENDAR)) == [EVENT_ID]


def test_upsert_of_an_existing_event_moves_it(harness: Harness) -> None:
    moved = attrs.evolve(
        EVENT, start=START + timedelta(days=2), end=START + timedelta(days=2, hours=2)
    )
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, moved)

    assert harness.events(DEFAULT_CALENDAR) == {EVENT_ID: seen(moved)}


def test_delete_removes_the_event(harness: Harness) -> None:
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    harness.calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    assert harness.events(DEFAULT_CALENDAR) == {}


def test_deleting_a_missing_or_deleted_event_is_fine(harness: Harness) -> None:
    harness.calendar.delete_event(DEFAULT_CALENDAR, calendar_event_id("never-booked"))
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    harness.calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    harness.calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    assert harness.events(DEFAULT_CALENDAR) == {}


def test_upsert_after_delete_brings_the_event_back(harness: Harness) -> None:
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    harness.calendar.delete_event(DEFAULT_CALENDAR, EVENT_ID)

    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)

    assert harness.events(DEFAULT_CALENDAR) == {EVENT_ID: seen(EVENT)}


def test_calendars_are_separate(harness: Harness) -> None:
    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    harness.calendar.upsert_event(OTHER_CALENDAR, EVENT_ID, attrs.evolve(EVENT, summary="other"))

    harness.calendar.delete_event(OTHER_CALENDAR, EVENT_ID)

    assert harness.events(DEFAULT_CALENDAR) == {EVENT_ID: seen(EVENT)}
    assert harness.events(OTHER_CALENDAR) == {}


def test_a_transient_failure_stores_nothing_and_the_retry_succeeds(harness: Harness) -> None:
    harness.fail_next_transiently()

    with pytest.raises(TransientDeliveryError):
        harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    assert harness.events(DEFAULT_CALENDAR) == {}

    harness.calendar.upsert_event(DEFAULT_CALENDAR, EVENT_ID, EVENT)
    assert harness.events(DEFAULT_CALENDAR) == {EVENT_ID: seen(EVENT)}
