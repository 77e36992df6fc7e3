"""The dashboard's figures (GetStats) on the in-memory stats read model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lily_core.domain.records import BookingStatus
from lily_core.errors import InvalidInput
from lily_core.ports.stats import DayActivity
from lily_core.testing import FakeClock, InMemoryDatabase
from lily_core.testing.stats import InMemoryStatsRepository
from lily_core.use_cases.stats import GetStats
from tests.unit.dashboard_world import (
    booking,
    lead,
    missed_call,
    operator,
    owner,
    quote,
    save,
    tenant,
    text_back,
)


@pytest.fixture
def db() -> InMemoryDatabase:
    return InMemoryDatabase()


# Austin: CDT (UTC-5) in June. 2026-06-01 04:30 UTC is still May 31 there.
MAY_31_LATE = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)
JUNE_1 = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
JUNE_3 = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)


def stats_for(db: InMemoryDatabase, now: datetime = JUNE_3) -> GetStats:
    return GetStats(InMemoryStatsRepository(db), FakeClock(now))


def test_the_figures_of_a_scripted_week(db: InMemoryDatabase) -> None:
    acme, other = tenant(), tenant()
    jane, john, june = lead(acme, MAY_31_LATE), lead(acme, JUNE_1), lead(acme, JUNE_3)
    stranger = lead(other, JUNE_1)
    save(
        db,
        acme,
        other,
        jane,
        john,
        june,
        stranger,
        missed_call(acme, jane, MAY_31_LATE),
        text_back(acme, jane, MAY_31_LATE, sent_after=12),
        missed_call(acme, john, JUNE_1),
        text_back(acme, john, JUNE_1, sent_after=40),
        missed_call(acme, june, JUNE_3),
        text_back(acme, june, JUNE_3, sent_after=None),  # still waiting out its jitter
        missed_call(other, stranger, JUNE_1),
        text_back(other, stranger, JUNE_1, sent_after=1),
        quote(acme, jane, JUNE_1),
        quote(acme, john, JUNE_1, in_service_area=False),  # a decline, not a quote
        booking(acme, jane, JUNE_3 + timedelta(days=2), at=JUNE_1),
        booking(acme, john, JUNE_3, at=JUNE_1, status=BookingStatus.CANCELLED),
    )

    stats = stats_for(db)(operator(acme), start=date(2026, 5, 31), end=date(2026, 6, 3))

    assert (stats.missed_calls, stats.texted_back) == (3, 2)
    assert (stats.leads, stats.quotes, stats.bookings) == (3, 1, 1)
    assert stats.conversion_rate == pytest.approx(1 / 3, abs=1e-4)
    assert stats.median_speed_to_lead_seconds == 26.0  # between 12 and 40
    assert stats.by_day == (
        DayActivity(date(2026, 5, 31), 1, 0, 0),
        DayActivity(date(2026, 6, 1), 1, 1, 1),
        DayActivity(date(2026, 6, 2), 0, 0, 0),
        DayActivity(date(2026, 6, 3), 1, 0, 0),
    )


def test_the_default_range_is_the_last_30_local_days(db: InMemoryDatabase) -> None:
    acme = tenant()
    save(db, acme)
    # 02:00 UTC on June 3 is still June 2 in Austin
    stats = stats_for(db, datetime(2026, 6, 3, 2, 0, tzinfo=UTC))(owner(acme))
    assert (stats.start, stats.end) == (date(2026, 5, 4), date(2026, 6, 2))
    assert len(stats.by_day) == 30
    assert (stats.conversion_rate, stats.median_speed_to_lead_seconds) == (None, None)
    only_end = stats_for(db)(owner(acme), end=date(2026, 1, 30))
    assert (only_end.start, len(only_end.by_day)) == (date(2026, 1, 1), 30)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2026, 6, 2), date(2026, 6, 1), "to"),
        (date(2025, 1, 1), date(2026, 6, 1), "from"),
        (None, date.min, "to"),
        (date.max, date.max, "from"),
    ],
)
def test_a_range_backwards_too_long_or_off_the_calendar_is_refused(
    db: InMemoryDatabase, start: date | None, end: date, field: str
) -> None:
    acme = tenant()
    save(db, acme)
    with pytest.raises(InvalidInput) as caught:
        stats_for(db)(owner(acme), start=start, end=end)
    assert caught.value.field == field


def test_400_days_are_allowed(db: InMemoryDatabase) -> None:
    acme = tenant()
    save(db, acme)
    stats = stats_for(db)(owner(acme), start=date(2025, 1, 1), end=date(2026, 2, 4))
    assert len(stats.by_day) == 400
