"""Issue 16: business-initiated texts keep to the recipient's state window (federal floor
8 a.m.-9 p.m. everywhere) and the tenant's quiet hours, the stricter winning; where the
recipient is comes from the lead's ZIP, else the area code, else the tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lily_core.domain.compliance import help_reply, with_opt_out_line
from lily_core.domain.leads import Lead
from lily_core.domain.recipient import area_code_location, locate_recipient
from lily_core.domain.state_rules import (
    FEDERAL,
    STATE_RULES,
    allowed_window,
    describe,
    legal_holidays,
    next_allowed,
)
from lily_core.domain.tenant import QuietHours, Tenant
from lily_core.use_cases.missed_call import first_text_back

STATES = [None, "NY", "CA", *(rule.state for rule in STATE_RULES)]
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
]
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def _wall(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def allowed(instant: datetime, zone: str, state: str | None, quiet: QuietHours | None) -> bool:
    local = _wall(instant, zone)
    window = allowed_window(state, local.date())
    inside = window is not None and window.contains(local.time())
    return inside and (quiet is None or not quiet.contains(local.time()))


WINDOWS = st.builds(
    lambda start, minutes: QuietHours(
        start, (datetime.combine(date(2026, 1, 1), start) + timedelta(minutes=minutes)).time()
    ),
    st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    st.integers(min_value=1, max_value=15 * 60),
)
# Quiet hours that leave room inside every day's window (all of them hold 12:00-13:00); the
# ones that swallow the law's window are the subject of a test of their own.
ROOMY_WINDOWS = WINDOWS.filter(lambda q: not any(q.contains(time(12, m)) for m in range(60)))
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@st.composite
def around_dst_changes(draw: st.DrawFn) -> tuple[datetime, str]:
    """An instant within a day of a US DST change (2026-03-08 or 2026-11-01)."""
    zone = draw(
        st.sampled_from([z for z in ZONES if z not in ("America/Phoenix", "Pacific/Honolulu")])
    )
    change = draw(st.sampled_from([date(2026, 3, 8), date(2026, 11, 1)]))
    base = datetime.combine(change, time(2), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return base + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60))), zone


def check(now: datetime, zone: str, state: str | None, quiet: QuietHours | None) -> None:
    result = next_allowed(now, zone, state, quiet)
    if result is None:
        assert allowed(now, zone, state, quiet)
        return
    assert not allowed(now, zone, state, quiet)
    assert result > now and result.utcoffset() == timedelta(0)
    local = _wall(result, zone)
    window = allowed_window(state, local.date())
    assert window is not None and window.contains(local.time())  # never outside the law
    if quiet is None or allowed(result, zone, state, quiet):
        # the first allowed minute: a minute earlier was not allowed
        assert not allowed(result - timedelta(minutes=1), zone, state, quiet)


@settings(max_examples=500)
@given(INSTANTS, st.sampled_from(ZONES), st.sampled_from(STATES), st.none() | ROOMY_WINDOWS)
@example(datetime(2026, 6, 1, 4, 0, tzinfo=UTC), "America/Chicago", "TX", None)
def test_no_business_text_outside_the_recipients_window(
    now: datetime, zone: str, state: str | None, quiet: QuietHours | None
) -> None:
    check(now, zone, state, quiet)


@settings(max_examples=500)
@given(around_dst_changes(), st.sampled_from(STATES), st.none() | ROOMY_WINDOWS)
def test_no_business_text_outside_the_window_across_dst_changes(
    case: tuple[datetime, str], state: str | None, quiet: QuietHours | None
) -> None:
    now, zone = case
    check(now, zone, state, quiet)


@settings(max_examples=300)
@given(INSTANTS, st.sampled_from(ZONES), st.sampled_from(STATES))
def test_the_default_quiet_hours_are_never_looser_than_the_law(
    now: datetime, zone: str, state: str | None
) -> None:
    default = QuietHours(time(21), time(8))
    result = next_allowed(now, zone, state, default) or now
    assert allowed(result, zone, state, default)


def test_every_row_is_within_the_federal_floor_and_cites_a_source() -> None:
    for rule in STATE_RULES:
        assert len(rule.days) == 7 and rule.source
        for day in range(7):
            window = allowed_window(rule.state, date(2026, 6, 1) + timedelta(days=day))
            assert window is None or (FEDERAL.start <= window.start and window.end <= FEDERAL.end)
    assert {row["state"] for row in describe()} == {rule.state for rule in STATE_RULES}


def _local(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_florida_at_20_30_waits_for_8_the_next_morning() -> None:
    now = _local("America/New_York", 2026, 6, 4, 20, 30)
    result = next_allowed(now, "America/New_York", "FL", QuietHours(time(21), time(8)))
    assert result == _local("America/New_York", 2026, 6, 5, 8, 0)


def test_texas_on_sunday_at_10_waits_for_noon() -> None:
    now = _local("America/Chicago", 2026, 6, 7, 10, 0)  # a Sunday
    result = next_allowed(now, "America/Chicago", "TX", QuietHours(time(21), time(8)))
    assert result == _local("America/Chicago", 2026, 6, 7, 12, 0)


def test_texas_on_a_weekday_at_8_30_waits_for_9() -> None:
    now = _local("America/Chicago", 2026, 6, 8, 8, 30)
    assert next_allowed(now, "America/Chicago", "TX", None) == _local(
        "America/Chicago", 2026, 6, 8, 9, 0
    )


def test_a_tenant_window_stricter_than_the_law_wins() -> None:
    now = _local("America/Chicago", 2026, 6, 8, 9, 30)
    quiet = QuietHours(time(18), time(10))
    assert next_allowed(now, "America/Chicago", "TX", quiet) == _local(
        "America/Chicago", 2026, 6, 8, 10, 0
    )


def test_a_looser_tenant_window_does_not_loosen_the_federal_floor() -> None:
    now = _local("America/Los_Angeles", 2026, 6, 8, 7, 0)
    quiet = QuietHours(time(23), time(6))
    assert next_allowed(now, "America/Los_Angeles", "CA", quiet) == _local(
        "America/Los_Angeles", 2026, 6, 8, 8, 0
    )


def test_quiet_hours_that_swallow_the_law_s_window_give_way_to_the_law() -> None:
    quiet = QuietHours(time(7), time(22))  # the tenant would never text: the law's window it is
    night = _local("America/Chicago", 2026, 6, 8, 23, 0)
    assert next_allowed(night, "America/Chicago", "TX", quiet) == _local(
        "America/Chicago", 2026, 6, 9, 9, 0
    )
    assert next_allowed(night + timedelta(hours=11), "America/Chicago", "TX", quiet) is None


def test_mississippi_has_no_sunday() -> None:
    saturday_night = _local("America/Chicago", 2026, 6, 6, 20, 30)
    assert next_allowed(saturday_night, "America/Chicago", "MS", None) == _local(
        "America/Chicago", 2026, 6, 8, 9, 0
    )  # 8 a.m. CST is 9 a.m. CDT


def test_rhode_island_skips_legal_holidays() -> None:
    thursday_evening = _local("America/New_York", 2026, 7, 2, 18, 30)
    # Friday the 3rd is when July 4th (a Saturday) is observed, the 4th is the day itself,
    # the 5th a Sunday: Monday 9 am
    assert next_allowed(thursday_evening, "America/New_York", "RI", None) == _local(
        "America/New_York", 2026, 7, 6, 9, 0
    )


def test_federal_holidays_are_computed_with_observed_days() -> None:
    holidays = legal_holidays(2026)
    assert date(2026, 7, 3) in holidays  # July 4th 2026 is a Saturday
    assert date(2026, 11, 26) in holidays  # Thanksgiving
    assert date(2026, 1, 19) in holidays  # Martin Luther King, Jr. Day
    assert date(2026, 5, 25) in holidays  # Memorial Day


# -- where the recipient is ---------------------------------------------------------------


def _tenant(**fields: object) -> Tenant:
    defaults: dict[str, object] = {
        "name": "Acme",
        "slug": "acme",
        "phone": "+15125550100",
        "timezone": "America/Chicago",
        "created_at": CREATED,
    }
    return Tenant(**(defaults | fields))  # type: ignore[arg-type]


def _lead(phone: str | None = "+13055550123", zip_code: str | None = None) -> Lead:
    return Lead(tenant_id="t", phone=phone, zip=zip_code, created_at=CREATED)


def test_the_leads_zip_comes_first() -> None:
    where = locate_recipient(_lead("+12145550123", "33101"), _tenant())
    assert (where.state, where.timezone, where.source) == ("FL", "America/New_York", "zip")


def test_else_the_area_code() -> None:
    where = locate_recipient(_lead("+12065550123"), _tenant())
    assert (where.state, where.timezone, where.source) == ("WA", "America/Los_Angeles", "area_code")


@pytest.mark.parametrize(
    ("phone", "state"),
    [("+14055550123", "OK"), ("+14105550123", "MD"), ("+12125550100", "NY"), ("+1214555012", None)],
)
def test_area_codes_name_their_state(phone: str, state: str | None) -> None:
    assert area_code_location(phone)[0] == state


def test_else_the_tenants_own_state_and_timezone() -> None:
    where = locate_recipient(
        _lead("+15555550123"), _tenant(zip="33101", timezone="America/New_York")
    )
    assert (where.state, where.timezone, where.source) == ("FL", "America/New_York", "tenant")
    where = locate_recipient(_lead(None), _tenant())
    assert (where.state, where.source) == ("TX", "tenant")  # from the business number


# -- CTIA: HELP and the first text's opt-out line ----------------------------------------------


def test_help_carries_every_ctia_element() -> None:
    text = help_reply(_tenant(name="Acme Wash Co"))
    assert text.startswith("Acme Wash Co:")
    assert "call +15125550100" in text
    assert "Msg & data rates may apply." in text
    assert "Reply STOP to opt out." in text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hi, send photos.", "Hi, send photos. Reply STOP to opt out."),
        ("Hi! Text stop to opt out.", "Hi! Text stop to opt out."),
        ("Our stopwatch says hi", "Our stopwatch says hi Reply STOP to opt out."),
    ],
)
def test_the_opt_out_line_is_added_once(body: str, expected: str) -> None:
    assert with_opt_out_line(body) == expected


def test_the_first_text_back_says_how_to_opt_out_later_ones_do_not() -> None:
    tenant, lead = _tenant(name="Acme"), _lead()
    assert first_text_back(tenant, lead).endswith("Reply STOP to opt out.")
    lead.first_contact_at = CREATED
    assert first_text_back(tenant, lead) == tenant.render_missed_call_text()


def test_help_names_the_tenants_own_contact_and_sentence() -> None:
    tenant = _tenant(name="Acme", help_contact="help@acme.example", help_message="Mon-Fri 8-5.")
    assert help_reply(tenant) == (
        "Acme: for help, email help@acme.example or reply to this text. Mon-Fri 8-5. "
        "Msg & data rates may apply. Reply STOP to opt out."
    )


def test_a_tenant_may_turn_the_opt_out_line_off() -> None:
    tenant = _tenant(name="Acme", opt_out_notice=False)
    assert first_text_back(tenant, _lead()) == tenant.render_missed_call_text()
