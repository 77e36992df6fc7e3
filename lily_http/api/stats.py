"""`GET /api/v1/stats` (DESIGN §4.2): the dashboard's figures over a range of local days."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from lily_core.use_cases.stats import DEFAULT_DAYS, MAX_DAYS, Stats
from lily_http.api.auth import Caller
from lily_http.api.errors import error_responses
from lily_http.deps import ContainerDep

router = APIRouter(prefix="/stats", tags=["stats"])


class DayFigures(BaseModel):
    date: dt.date = Field(description="A day in the tenant's timezone")
    leads: int
    quotes: int
    bookings: int


class StatsOut(BaseModel):
    missed_calls: int
    texted_back: int = Field(description="Missed calls whose text-back was sent")
    leads: int = Field(description="New leads")
    quotes: int = Field(description="Quotes sent inside the service area")
    bookings: int = Field(description="Bookings made, not cancelled")
    conversion_rate: float | None = Field(
        description="The share of the new leads that booked (0 to 1); null without leads"
    )
    median_speed_to_lead_seconds: float | None = Field(
        description="From a missed call to its text-back sent (the jitter included); null "
        "without text-backs"
    )
    by_day: list[DayFigures] = Field(description="Every day of the range, oldest first")

    @classmethod
    def of(cls, stats: Stats) -> StatsOut:
        return cls(
            missed_calls=stats.missed_calls,
            texted_back=stats.texted_back,
            leads=stats.leads,
            quotes=stats.quotes,
            bookings=stats.bookings,
            conversion_rate=stats.conversion_rate,
            median_speed_to_lead_seconds=stats.median_speed_to_lead_seconds,
            by_day=[
                DayFigures(date=d.date, leads=d.leads, quotes=d.quotes, bookings=d.bookings)
                for d in stats.by_day
            ],
        )


@router.get(
    "",
    operation_id="getStats",
    responses=error_responses(401, 422),
    description="What came in and what Lily made of it, over local days of the tenant's "
    f"timezone (at most {MAX_DAYS} days).",
)
def get_stats(
    caller: Caller,
    container: ContainerDep,
    start: Annotated[
        dt.date | None,
        Query(alias="from", description=f"First day (default: the {DEFAULT_DAYS} days to `to`)"),
    ] = None,
    end: Annotated[
        dt.date | None, Query(alias="to", description="Last day, included (default: today)")
    ] = None,
) -> StatsOut:
    return StatsOut.of(container.get_stats()(caller, start=start, end=end))
