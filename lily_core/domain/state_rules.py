"""When a business may text a recipient, by the recipient's US state (DESIGN §2.5, issue 16).

The rules are data: one `StateRule` row per state that is stricter than the federal floor,
each with the statute it comes from. Federal: 47 CFR 64.1200(c)(1) (TCPA), no telephone
solicitation before 8 a.m. or after 9 p.m. at the called party's location; it applies in every
state, so a state's window is always intersected with it. The tenant's own quiet hours are
applied on top by the caller (the stricter wins).

These are rules for telephone solicitations; Lily applies them to every business-initiated
text (review requests, follow-ups) because reading the exemptions (an established business
relationship, a request of the customer) case by case is a lawyer's job, not a worker's.
Not legal advice: review the table with counsel before relying on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from lily_core.domain.compliance import quiet_until
from lily_core.domain.tenant import QuietHours


@attrs.frozen
class Window:
    """Allowed local wall-clock hours of one day, [start, end)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        return self.start <= local < self.end

    def narrowed(self, other: Window) -> Window | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Window(start, end) if start < end else None


def _hours(start: int, end: int) -> Window:
    return Window(time(start), time(end))


def _week(
    weekday: Window | None, saturday: Window | None, sunday: Window | None
) -> tuple[Window | None, ...]:
    """Monday..Sunday, as `date.weekday()` counts."""
    return (weekday,) * 5 + (saturday, sunday)


@attrs.frozen
class StateRule:
    """One state's hours for business-initiated texts: a window per weekday (Monday first;
    None forbids the day), whether legal holidays are forbidden, and where it comes from."""

    state: str
    days: tuple[Window | None, ...]
    source: str
    no_holidays: bool = False
    verified: bool = True  # False: the source could not be checked against the statute text


FEDERAL = _hours(8, 21)
FEDERAL_SOURCE = "47 CFR 64.1200(c)(1) (TCPA): 8 a.m.-9 p.m. local time at the called party"

# fmt: off
STATE_RULES: tuple[StateRule, ...] = (
    StateRule("FL", _week(_hours(8, 20), _hours(8, 20), _hours(8, 20)),
              "Fla. Stat. § 501.616(6)(a) (as amended by Laws of Fla. ch. 2021-185): no "
              "commercial telephone solicitation before 8 a.m. or after 8 p.m. in the called "
              "person's time zone; § 501.059 (FTSA) covers text messages"),
    StateRule("OK", _week(_hours(8, 20), _hours(8, 20), _hours(8, 20)),
              "Telephone Solicitation Act of 2022, 15 O.S. § 775C.1 et seq. (eff. 2022-11-01): "
              "8 a.m.-8 p.m. in the called party's time zone", verified=False),
    StateRule("MD", _week(_hours(8, 20), _hours(8, 20), _hours(8, 20)),
              "Md. Code, Com. Law § 14-4502 (Stop the Spam Calls Act of 2023, eff. 2024-01-01): "
              "8 a.m.-8 p.m. in the called party's time zone"),
    StateRule("WA", _week(_hours(8, 20), _hours(8, 20), _hours(8, 20)),
              "RCW 19.158.040(2): no commercial telephone solicitation received before 8:00 a.m. "
              "or after 8:00 p.m. at the recipient's local time; RCW 80.36.390"),
    StateRule("TX", _week(_hours(9, 21), _hours(9, 21), _hours(12, 21)),
              "Tex. Bus. & Com. Code § 301.051: 9 a.m.-9 p.m. on a weekday or Saturday, "
              "noon-9 p.m. on Sunday", verified=False),
    # 8-8 "Central Standard Time": in daylight time that is 9 a.m.-9 p.m. on the clock, so
    # the window kept all year is the stricter overlap, 9 a.m.-8 p.m. local
    StateRule("MS", _week(_hours(9, 20), _hours(9, 20), None),
              "Miss. Code § 77-3-723: 8 a.m.-8 p.m. Central Standard Time, no telephone "
              "solicitation on a Sunday (kept as 9 a.m.-8 p.m. local all year)"),
    StateRule("RI", _week(_hours(9, 18), _hours(10, 17), None),
              "R.I. Gen. Laws § 5-61-3.6 (only during the hours of operation of § 5-61-2(9)): "
              "9 a.m.-6 p.m. Monday-Friday, 10 a.m.-5 p.m. Saturday, never on a Sunday or a "
              "legal holiday", no_holidays=True, verified=False),
)
# Checked against stored copies of the texts (issue 16): FL flsenate.gov / lawserver.com
# (§ 501.616(6)(a)); WA app.leg.wa.gov (RCW 19.158.040); MS getpocketlaw.com (§ 77-3-723);
# MD: § 14-4502 on lexace.ai and the 8-8 window in the Act's press coverage. Rows marked
# verified=False rest on secondary sources only (OK: the Act's summaries; TX: § 301.051 is
# titled "Telephone solicitation requirements" but its hours were not in a stored copy; RI:
# § 5-61-3.6 refers to § 5-61-2(9), whose text was not found).
# fmt: on

_BY_STATE = {rule.state: rule for rule in STATE_RULES}


def rule_for(state: str | None) -> StateRule | None:
    """The row for a two-letter state code, or None where only the federal floor applies."""
    return _BY_STATE.get(state.upper()) if state else None


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 = last) `weekday` of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """5 U.S.C. § 6103(b): a Saturday holiday is observed the Friday, a Sunday one the Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def legal_holidays(year: int) -> frozenset[date]:
    """The federal legal public holidays of 5 U.S.C. § 6103(a) in `year`, both the day and
    the day it is observed. States keep their own lists; the federal one stands in for them."""
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11),
             date(year, 12, 25)]  # fmt: skip
    moving = [
        _nth_weekday(year, 1, 0, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving Day
    ]
    return frozenset(fixed + [_observed(d) for d in fixed] + moving)


def allowed_window(state: str | None, day: date) -> Window | None:
    """The local hours in which a business-initiated text may reach someone in `state` on
    `day`: the state's window for that weekday narrowed to the federal floor; None if the
    day is forbidden (a Sunday or holiday the state excludes)."""
    rule = rule_for(state)
    if rule is None:
        return FEDERAL
    if rule.no_holidays and day in legal_holidays(day.year):
        return None
    window = rule.days[day.weekday()]
    return window.narrowed(FEDERAL) if window is not None else None


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _first_instant_at(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant the local clock shows `wall` (or, if it skips it, just after)."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(instant, zone) == wall:
        return instant
    return wall.replace(tzinfo=zone, fold=1).astimezone(UTC)  # skipped: PEP 495 lands after


def lawful_until(now: datetime, timezone: str, state: str | None) -> datetime | None:
    """None if a business-initiated text may reach someone in `state` at `now` (local time in
    `timezone`); else the first instant after `now` at which one may: the start of the next
    allowed window, looking up to two weeks ahead."""
    zone = ZoneInfo(timezone)
    local = _wall(now, zone)
    window = allowed_window(state, local.date())
    if window is not None and window.contains(local.time()):
        return None
    for offset in range(15):
        day = local.date() + timedelta(days=offset)
        window = allowed_window(state, day)
        if window is None:
            continue
        opening = _first_instant_at(datetime.combine(day, window.start), zone)
        if opening > now:
            return opening.astimezone(now.tzinfo)
    raise AssertionError("no allowed window within two weeks: the rules table is wrong")


def next_allowed(
    now: datetime, timezone: str, state: str | None, quiet: QuietHours | None
) -> datetime | None:
    """None if a business-initiated text may go at `now`: inside the recipient's state window
    (federal floor included) and outside the tenant's quiet hours (None: no quiet hours).
    Otherwise the first instant after `now` at which both hold. If the tenant's quiet hours
    leave no room inside the law's window for two weeks, the law's next opening is returned:
    the tenant's window is a preference, the law the limit."""
    candidate = now
    for _ in range(64):
        later = lawful_until(candidate, timezone, state)
        if later is None and quiet is not None:
            later = quiet_until(candidate, timezone, quiet)
        if later is None:
            return None if candidate == now else candidate
        candidate = later
        if candidate - now > timedelta(days=14):
            break
    return lawful_until(now, timezone, state)


def describe(rules: Sequence[StateRule] = STATE_RULES) -> list[dict[str, object]]:
    """The table as plain rows (state, hours by weekday, holidays, source), for display."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return [
        {
            "state": rule.state,
            **{
                name: f"{w.start:%H:%M}-{w.end:%H:%M}" if w else "none"
                for name, w in zip(names, rule.days, strict=True)
            },
            "no_holidays": rule.no_holidays,
            "source": rule.source,
            "verified": rule.verified,
        }
        for rule in rules
    ]
