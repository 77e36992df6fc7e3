"""The dashboard's figures over an InMemoryDatabase, by the definitions of StatsRepository."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lily_core.domain.leads import MessageKind
from lily_core.domain.records import BookingStatus
from lily_core.ports.stats import ActivityFigures, DayActivity, local_days
from lily_core.testing.uow import InMemoryDatabase

__all__ = ["InMemoryStatsRepository"]


class InMemoryStatsRepository:
    """Reads the committed tables of `db`, as the SQL adapter reads committed rows."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self.db = db

    def activity(
        self, tenant_id: str, *, start: datetime, end: datetime, timezone: str
    ) -> ActivityFigures:
        local_days(start, end, timezone)
        with self.db.lock:
            tables = {name: list(rows.values()) for name, rows in self.db.tables.items()}

        def created(table: str) -> list[Any]:
            return [
                row
                for row in tables[table]
                if row.tenant_id == tenant_id and start <= row.created_at < end
            ]

        zone = ZoneInfo(timezone)
        per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        leads = created("leads")
        quotes = [q for q in created("quotes") if q.in_service_area]
        bookings = [b for b in created("bookings") if b.status != BookingStatus.CANCELLED]
        for name, rows in (("leads", leads), ("quotes", quotes), ("bookings", bookings)):
            for row in rows:
                per_day[row.created_at.astimezone(zone).date()][name] += 1

        texted = [
            m
            for m in created("messages")
            if m.kind == MessageKind.MISSED_CALL and m.sent_at is not None
        ]
        speeds = [(m.sent_at - m.created_at).total_seconds() for m in texted]
        booked = {
            b.lead_id
            for b in tables["bookings"]
            if b.tenant_id == tenant_id and b.status != BookingStatus.CANCELLED
        }
        return ActivityFigures(
            missed_calls=sum(1 for c in created("calls") if c.missed),
            texted_back=len(texted),
            booked_leads=sum(1 for lead in leads if lead.id in booked),
            median_speed_to_lead_seconds=statistics.median(speeds) if speeds else None,
            by_day=tuple(
                DayActivity(day, counts["leads"], counts["quotes"], counts["bookings"])
                for day, counts in sorted(per_day.items())
            ),
        )
