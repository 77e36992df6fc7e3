"""The stats read model (StatsRepository) agrees on the in-memory double, SQLite and
PostgreSQL: counts by the tenant's local day, across daylight-saving changes, and the median
speed to lead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lily_adapters.sql.stats import offset_stretches
from lily_core.domain.records import BookingStatus
from lily_core.ports.stats import DayActivity
from tests.contract import dashboard_backends
from tests.contract.dashboard_backends import Backend
from tests.unit.dashboard_world import (
    booking,
    lead,
    missed_call,
    quote,
    tenant,
    text_back,
)

# the fixtures, on the in-memory doubles, SQLite and PostgreSQL
backend = dashboard_backends.backend
sqlite_engine = dashboard_backends.sqlite_engine
postgres_engine = dashboard_backends.postgres_engine

T0 = datetime(2026, 6, 1, 15, 0, 0, 250_000, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_stats_count_by_local_day_across_a_daylight_saving_change(backend: Backend) -> None:
    # Chicago springs forward at 2026-03-08 08:00 UTC (02:00 CST -> 03:00 CDT).
    acme, other = tenant(timezone="America/Chicago"), tenant()
    times = {
        "mar7_late": utc("2026-03-08 05:30"),  # 23:30 CST on March 7
        "mar8": utc("2026-03-08 15:00"),
        "mar8_late": utc("2026-03-09 04:30"),  # 23:30 CDT on March 8
        "mar9_early": utc("2026-03-09 05:30"),  # 00:30 CDT on March 9 (23:30 at CST)
    }
    leads = {name: lead(acme, at) for name, at in times.items()}
    stranger = lead(other, times["mar8"])
    backend.save(acme, other, *leads.values(), stranger)
    backend.save(
        quote(acme, leads["mar7_late"], times["mar8"]),
        quote(acme, leads["mar8"], times["mar9_early"]),
        quote(acme, leads["mar8"], times["mar9_early"], in_service_area=False),
        quote(other, stranger, times["mar8"]),
        booking(acme, leads["mar8"], times["mar9_early"], at=times["mar8_late"]),
        booking(acme, leads["mar9_early"], T0, at=times["mar9_early"]),
        booking(acme, leads["mar7_late"], T0, at=times["mar8"], status=BookingStatus.CANCELLED),
        booking(other, stranger, T0, at=times["mar8"]),
    )

    figures = backend.stats.activity(
        acme.id,
        start=utc("2026-03-07 06:00"),  # local midnights, CST
        end=utc("2026-03-10 05:00"),  # CDT
        timezone="America/Chicago",
    )

    assert figures.by_day == (
        DayActivity(date(2026, 3, 7), 1, 0, 0),
        DayActivity(date(2026, 3, 8), 2, 1, 1),
        DayActivity(date(2026, 3, 9), 1, 1, 1),
    )
    assert figures.booked_leads == 2  # the cancelled booking does not count
    assert (figures.missed_calls, figures.texted_back) == (0, 0)
    assert figures.median_speed_to_lead_seconds is None


@pytest.mark.parametrize(("delays", "median"), [([30.0], 30.0), ([10.0, 45.5, 12.0, 20.0], 16.0)])
def test_stats_median_speed_to_lead(backend: Backend, delays: list[float], median: float) -> None:
    acme, other = tenant(timezone="UTC"), tenant()
    callers = [lead(acme, T0) for _ in delays]
    stranger = lead(other, T0)
    backend.save(acme, other, *callers, stranger)
    backend.save(
        *(missed_call(acme, le, T0 + timedelta(minutes=i)) for i, le in enumerate(callers)),
        *(
            text_back(acme, le, T0 + timedelta(minutes=i), sent_after=delay)
            for i, (le, delay) in enumerate(zip(callers, delays, strict=True))
        ),
        missed_call(acme, callers[0], T0 + timedelta(hours=1), texted_back=False),
        text_back(acme, callers[0], T0 + timedelta(hours=2), sent_after=None),  # not sent yet
        missed_call(other, stranger, T0),
        text_back(other, stranger, T0, sent_after=1000),
        missed_call(acme, callers[0], T0 - timedelta(days=1)),  # before the window
        text_back(acme, callers[0], T0 - timedelta(days=1), sent_after=1000),
    )

    figures = backend.stats.activity(
        acme.id, start=utc("2026-06-01 00:00"), end=utc("2026-06-02 00:00"), timezone="UTC"
    )

    assert figures.missed_calls == len(delays) + 1
    assert figures.texted_back == len(delays)
    assert figures.median_speed_to_lead_seconds == pytest.approx(median, abs=0.01)
    assert figures.by_day == (DayActivity(date(2026, 6, 1), len(delays), 0, 0),)


def test_offset_stretches_find_each_change_to_the_second() -> None:
    chicago = ZoneInfo("America/Chicago")
    start, end = utc("2026-01-01 06:00"), utc("2027-01-01 06:00")
    assert offset_stretches(chicago, start, end) == [
        (start, -6 * 3600),
        (utc("2026-03-08 08:00"), -5 * 3600),
        (utc("2026-11-01 07:00"), -6 * 3600),
    ]
    phoenix = ZoneInfo("America/Phoenix")
    assert offset_stretches(phoenix, start, end) == [(start, -7 * 3600)]
