"""What the dashboard's figures (`GET /api/v1/stats`, DESIGN §4.2) need from storage: counts
and a median worked out where the data is, never by loading the rows.

A read model rather than a repository: it changes nothing, so it is not handed out by the
UnitOfWork and reads committed data on its own."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

import attrs

__all__ = ["ActivityFigures", "DayActivity", "StatsRepository", "local_days"]


@attrs.frozen
class DayActivity:
    """What happened on one local day of the tenant."""

    date: date
    leads: int
    quotes: int
    bookings: int


@attrs.frozen
class ActivityFigures:
    missed_calls: int
    texted_back: int
    booked_leads: int
    median_speed_to_lead_seconds: float | None
    by_day: tuple[DayActivity, ...]  # days with any activity only, oldest first


class StatsRepository(Protocol):
    def activity(
        self, tenant_id: str, *, start: datetime, end: datetime, timezone: str
    ) -> ActivityFigures:
        """The tenant's figures for what was created in [start, end), whole local days:
        `start` and `end` are midnights in `timezone`, the tenant's time zone (ValueError
        otherwise; a PostgreSQL rollup keeps the days in it):

        - `missed_calls`: calls marked missed;
        - `texted_back`: missed-call text-backs (messages of kind `missed_call`) that were
          sent (`sent_at` set; sandbox sends count);
        - `median_speed_to_lead_seconds`: the median of `sent_at - created_at` over those
          text-backs (None if there are none). A text-back is created in the transaction that
          records its missed call, with the same time, so this is missed call -> text sent;
        - `booked_leads`: leads created in the window with a booking that is not cancelled
          (made at any time);
        - `by_day`: per local day in `timezone` (an IANA name), the leads created, the quotes
          made inside the service area, and the bookings made that are not cancelled.
        """
        ...


def local_days(start: datetime, end: datetime, timezone: str) -> tuple[date, date]:
    """The first local day of [start, end) and the day after its last, in `timezone`;
    ValueError if either is not a local midnight there."""
    zone = ZoneInfo(timezone)
    first, stop = start.astimezone(zone), end.astimezone(zone)
    if first.time() != time(0) or stop.time() != time(0):
        raise ValueError(f"stats count whole days: {start} and {end} must be midnights in {zone}")
    return first.date(), stop.date()
