"""The dashboard's figures in SQL: counts by the tenant's local day, and the median speed
to lead, each worked out by the database.

PostgreSQL sums the rollup its triggers keep in the tenant's time zone (migration 0010): a
year is at most 366 rows however busy the tenant. SQLite, the embedded default that serves
one business, counts the rows themselves; it has no time-zone data, so the UTC offsets in
force over the window are looked up here with zoneinfo (a window of up to a few hundred days
has a handful of stretches, one per daylight-saving change) and each row is shifted by the
offset of its stretch, in a CASE, before `date()` takes its day. The median is the middle
one or two of the window's delays in order, which an index ordered by the delay serves on
PostgreSQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import sqlalchemy as sa

from lily_adapters.sql import tables as t
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.leads import MessageKind
from lily_core.domain.records import BookingStatus
from lily_core.ports.stats import ActivityFigures, DayActivity, StatsRepository, local_days

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
        first, stop = local_days(start, end, timezone)  # whole local days, or ValueError
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot: the median's position comes from the rollup's count.
                conn.execution_options(isolation_level="REPEATABLE READ")
                set_tenant_scope(conn, tenant_id)
                figures = _from_rollup(conn, tenant_id, first, stop)
            else:  # one transaction, one writer at a time: a snapshot too
                figures = _from_rows(conn, tenant_id, start, end, timezone)
            median = _median_speed_to_lead(conn, tenant_id, start, end, figures.texted_back)
        return attrs.evolve(figures, median_speed_to_lead_seconds=median)


def _from_rollup(conn: sa.Connection, tenant_id: str, first: date, stop: date) -> ActivityFigures:
    """The figures of the local days [first, stop) summed from activity_days, which keeps
    them in the tenant's time zone."""
    a = t.activity_days.c
    rows = conn.execute(
        sa.select(a.day, *(a[count] for count in t.ACTIVITY_COUNTS))
        .where(
            a.tenant_id == tenant_id,
            a.day >= first,
            a.day < stop,
        )
        .order_by(a.day)
    ).all()
    total = {count: sum(row[i] for row in rows) for i, count in enumerate(t.ACTIVITY_COUNTS, 1)}
    return ActivityFigures(
        missed_calls=total["missed_calls"],
        texted_back=total["texted_back"],
        booked_leads=total["booked_leads"],
        median_speed_to_lead_seconds=None,
        by_day=tuple(
            DayActivity(day, leads, quotes, bookings)
            for day, leads, quotes, bookings, *_ in rows
            if leads or quotes or bookings
        ),
    )


def _from_rows(
    conn: sa.Connection, tenant_id: str, start: datetime, end: datetime, timezone: str
) -> ActivityFigures:
    """The window's figures counted from the rows themselves (SQLite)."""

    def window(table: sa.Table) -> sa.ColumnElement[bool]:
        c = table.c
        return sa.and_(c.tenant_id == tenant_id, c.created_at >= start, c.created_at < end)

    local_day = _sqlite_local_day(timezone, start, end)
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    for name, table, condition in (
        ("leads", t.leads, sa.true()),
        ("quotes", t.quotes, t.quotes.c.in_service_area.is_(True)),
        ("bookings", t.bookings, t.bookings.c.status != BookingStatus.CANCELLED),
    ):
        for day, count in conn.execute(_count_by_day(table, window, condition, local_day)):
            per_day[day][name] = count

    def how_many(table: sa.Table, *conditions: sa.ColumnElement[bool]) -> int:
        return int(
            conn.scalar(
                sa.select(sa.func.count()).select_from(table).where(window(table), *conditions)
            )
            or 0
        )

    m = t.messages.c
    return ActivityFigures(
        missed_calls=how_many(t.calls, t.calls.c.missed.is_(True)),
        texted_back=how_many(t.messages, m.kind == MessageKind.MISSED_CALL, m.sent_at.is_not(None)),
        booked_leads=how_many(t.leads, _booked()),
        median_speed_to_lead_seconds=None,
        by_day=tuple(
            DayActivity(
                day, counts.get("leads", 0), counts.get("quotes", 0), counts.get("bookings", 0)
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


def _median_speed_to_lead(
    conn: sa.Connection, tenant_id: str, start: datetime, end: datetime, count: int
) -> float | None:
    """The median seconds from missed call to text-back sent of the window's `count`
    text-backs: the middle delay (odd count) or the two middle ones averaged (even)."""
    if not count:
        return None
    m = t.messages.c
    delay: sa.ColumnElement[Any]
    seconds: sa.ColumnElement[Any]
    if conn.dialect.name == "postgresql":
        delay = m.sent_at - m.created_at  # the order of ix_messages_speed_to_lead
        seconds = sa.extract("epoch", delay)
    else:
        seconds = delay = (sa.func.julianday(m.sent_at) - sa.func.julianday(m.created_at)) * 86400.0
    middle = (
        sa.select(seconds.label("seconds"))
        .where(
            m.tenant_id == tenant_id,
            m.kind == MessageKind.MISSED_CALL,
            m.sent_at.is_not(None),
            m.created_at >= start,
            m.created_at < end,
        )
        .order_by(delay)
        .limit(2 - count % 2)
        .offset((count - 1) // 2)
        .subquery()
    )
    median = conn.scalar(sa.select(sa.func.avg(middle.c.seconds)))
    return None if median is None else float(median)


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
