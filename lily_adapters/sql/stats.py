"""The dashboard's figures in SQL: counts, GROUP BY the tenant's local day, and the median
speed to lead, each worked out by the database (PostgreSQL or SQLite).

Local days: PostgreSQL converts with `created_at AT TIME ZONE tz` (the `timezone()`
function). SQLite has no time-zone data, so the UTC offsets in force over the window are
looked up here with zoneinfo (a window of up to a few hundred days has a handful of
stretches, one per daylight-saving change) and each row is shifted by the offset of its
stretch, in a CASE, before `date()` takes its day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from lily_adapters.sql import tables as t
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.leads import MessageKind
from lily_core.domain.records import BookingStatus
from lily_core.ports.stats import ActivityFigures, DayActivity, StatsRepository

__all__ = ["SqlStatsRepository", "offset_stretches"]

LocalDay = Callable[[sa.ColumnElement[datetime]], sa.ColumnElement[date]]


class SqlStatsRepository(StatsRepository):
    """Reads committed rows on a connection of its own (it writes nothing), scoped to the
    tenant it counts for (row-level security on PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def activity(
        self, tenant_id: str, *, start: datetime, end: datetime, timezone: str
    ) -> ActivityFigures:
        with self.engine.connect() as conn:
            set_tenant_scope(conn, tenant_id)
            postgres = conn.dialect.name == "postgresql"
            local_day = (
                _pg_local_day(timezone) if postgres else _sqlite_local_day(timezone, start, end)
            )

            def window(table: sa.Table) -> sa.ColumnElement[bool]:
                c = table.c
                return sa.and_(c.tenant_id == tenant_id, c.created_at >= start, c.created_at < end)

            per_day: dict[date, dict[str, int]] = defaultdict(dict)
            for name, table, condition in (
                ("leads", t.leads, sa.true()),
                ("quotes", t.quotes, t.quotes.c.in_service_area.is_(True)),
                ("bookings", t.bookings, t.bookings.c.status != BookingStatus.CANCELLED),
            ):
                for day, count in conn.execute(_count_by_day(table, window, condition, local_day)):
                    per_day[day][name] = count

            missed_calls = conn.scalar(
                sa.select(sa.func.count())
                .select_from(t.calls)
                .where(window(t.calls), t.calls.c.missed.is_(True))
            )
            texted_back, median = _speed_to_lead(conn, window(t.messages), postgres)
            booked_leads = conn.scalar(
                sa.select(sa.func.count()).select_from(t.leads).where(window(t.leads), _booked())
            )
        return ActivityFigures(
            missed_calls=int(missed_calls or 0),
            texted_back=texted_back,
            booked_leads=int(booked_leads or 0),
            median_speed_to_lead_seconds=median,
            by_day=tuple(
                DayActivity(
                    date=day,
                    leads=counts.get("leads", 0),
                    quotes=counts.get("quotes", 0),
                    bookings=counts.get("bookings", 0),
                )
                for day, counts in sorted(per_day.items())
            ),
        )


def _count_by_day(
    table: sa.Table,
    window: Callable[[sa.Table], sa.ColumnElement[bool]],
    condition: sa.ColumnElement[bool],
    local_day: LocalDay,
) -> sa.Select[date, int]:
    # The day is computed in a subquery and grouped on outside: the expression carries bound
    # parameters, which PostgreSQL would not recognise as the same expression twice.
    days = (
        sa.select(local_day(table.c.created_at).label("day"))
        .where(window(table), condition)
        .subquery()
    )
    return sa.select(days.c.day, sa.func.count()).group_by(days.c.day)


def _booked() -> sa.ColumnElement[bool]:
    b = t.bookings.c
    return sa.exists().where(
        b.tenant_id == t.leads.c.tenant_id,
        b.lead_id == t.leads.c.id,
        b.status != BookingStatus.CANCELLED,
    )


def _speed_to_lead(
    conn: sa.Connection, in_window: sa.ColumnElement[bool], postgres: bool
) -> tuple[int, float | None]:
    """(text-backs sent, median seconds from missed call to text sent)."""
    m = t.messages.c
    sent = sa.and_(in_window, m.kind == MessageKind.MISSED_CALL, m.sent_at.is_not(None))
    if postgres:
        interval = m.sent_at - m.created_at
        median_of = sa.func.percentile_cont(0.5).within_group(sa.extract("epoch", interval))
        count, median = conn.execute(sa.select(sa.func.count(), median_of).where(sent)).one()
        return int(count), None if median is None else float(median)
    seconds = (sa.func.julianday(m.sent_at) - sa.func.julianday(m.created_at)) * 86400.0
    count = int(conn.scalar(sa.select(sa.func.count()).where(sent)) or 0)
    if not count:
        return 0, None
    # The middle value (odd count) or the two middle ones (even), averaged.
    middle = (
        sa.select(seconds.label("seconds"))
        .where(sent)
        .order_by(seconds)
        .limit(2 - count % 2)
        .offset((count - 1) // 2)
        .subquery()
    )
    median = conn.scalar(sa.select(sa.func.avg(middle.c.seconds)))
    return count, None if median is None else float(median)


def _pg_local_day(timezone: str) -> LocalDay:
    def local_day(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[date]:
        return sa.cast(sa.func.timezone(timezone, column), sa.Date)

    return local_day


def _sqlite_local_day(timezone: str, start: datetime, end: datetime) -> LocalDay:
    stretches = offset_stretches(ZoneInfo(timezone), start, end)

    def local_day(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[date]:
        shifts = [_modifier(offset) for _, offset in stretches]
        shift: sa.ColumnElement[str] = sa.literal(shifts[-1])
        if len(stretches) > 1:
            shift = sa.case(
                *(
                    (column < begins, modifier)
                    for (begins, _), modifier in zip(stretches[1:], shifts[:-1], strict=True)
                ),
                else_=shifts[-1],
            )
        # type_coerce: SQLite's date() answers text, which the Date type reads as a date.
        return sa.type_coerce(sa.func.date(column, shift), sa.Date)

    return local_day


def _modifier(offset_seconds: int) -> str:
    return f"{offset_seconds:+d} seconds"


def offset_stretches(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The stretches of [start, end) over which `zone` keeps one UTC offset: (first instant,
    offset in seconds) each, oldest first. Offsets change at most a few times a year, on a
    whole second, so the window is walked a day at a time and each change found by halving."""

    def offset(timestamp: int) -> int:
        delta = datetime.fromtimestamp(timestamp, zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    first, last = math.floor(start.timestamp()), math.ceil(end.timestamp())
    stretches = [(start, offset(first))]
    at = first
    while at < last:
        following = min(at + 86_400, last)
        if offset(following) != stretches[-1][1]:
            low, high = at, following  # the new offset starts in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if offset(middle) != stretches[-1][1] else (middle, high)
            stretches.append((datetime.fromtimestamp(high, UTC), offset(high)))
        at = following
    return stretches
