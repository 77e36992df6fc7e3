"""The dashboard's figures (DESIGN §4.2 `GET /api/v1/stats`): what came in, what Lily did with
it, and how fast, over a range of the tenant's local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from lily_core.domain.principal import Principal
from lily_core.errors import InvalidInput
from lily_core.ports.clock import Clock
from lily_core.ports.stats import DayActivity, StatsRepository

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "GetStats", "Stats"]

DEFAULT_DAYS = 30
MAX_DAYS = 400


@attrs.frozen
class Stats:
    """The figures of the local days `start`..`end` (both included). `conversion_rate` is the
    share of the range's new leads that booked (None without new leads); the median speed
    to lead is from missed call to text-back sent, in seconds (None without text-backs);
    `by_day` has every day of the range, quiet ones with zeros."""

    start: date
    end: date
    missed_calls: int
    texted_back: int
    leads: int
    quotes: int
    bookings: int
    conversion_rate: float | None
    median_speed_to_lead_seconds: float | None
    by_day: tuple[DayActivity, ...]


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


class GetStats:
    """The caller's tenant's Stats from `start` to `end`, local days in the tenant's
    timezone. Without `end`, today; without `start`, the DEFAULT_DAYS days ending at `end`.
    InvalidInput (field `to`) if `end` is before `start`, or (field `from`) if the range is
    longer than MAX_DAYS days."""

    def __init__(self, stats: StatsRepository, clock: Clock) -> None:
        self.stats, self.clock = stats, clock

    def __call__(
        self, principal: Principal, *, start: date | None = None, end: date | None = None
    ) -> Stats:
        tenant = principal.tenant
        zone = ZoneInfo(tenant.timezone)
        try:
            end = end or self.clock.now().astimezone(zone).date()
            start = start or end - timedelta(days=DEFAULT_DAYS - 1)
            if end < start:
                raise InvalidInput("must not be before `from`", field="to")
            days = (end - start).days + 1
            if days > MAX_DAYS:
                raise InvalidInput(f"is {days} days before `to`, over {MAX_DAYS}", field="from")
            window_start = _local_midnight(start, zone)
            window_end = _local_midnight(end + timedelta(days=1), zone)
        except OverflowError:  # a day next to date.min or date.max
            raise InvalidInput("is out of range", field="from" if start else "to") from None
        figures = self.stats.activity(
            tenant.id, start=window_start, end=window_end, timezone=tenant.timezone
        )
        active = {day.date: day for day in figures.by_day}
        by_day = tuple(
            active.get(day, DayActivity(day, 0, 0, 0))
            for day in (start + timedelta(days=n) for n in range(days))
        )
        leads = sum(day.leads for day in by_day)
        return Stats(
            start=start,
            end=end,
            missed_calls=figures.missed_calls,
            texted_back=figures.texted_back,
            leads=leads,
            quotes=sum(day.quotes for day in by_day),
            bookings=sum(day.bookings for day in by_day),
            conversion_rate=round(figures.booked_leads / leads, 4) if leads else None,
            median_speed_to_lead_seconds=None
            if figures.median_speed_to_lead_seconds is None
            else round(figures.median_speed_to_lead_seconds, 1),
            by_day=by_day,
        )
