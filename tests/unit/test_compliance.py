"""Property tests for the compliance rules (DESIGN §2.5): keyword parsing and quiet hours."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lily_core.domain.compliance import (
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Keyword,
    parse_keyword,
    quiet_until,
)
from lily_core.domain.tenant import QuietHours

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
]
DEFAULT_QUIET = QuietHours(time(21, 0), time(8, 0))

# -- keywords ---------------------------------------------------------------------------------

PUNCTUATION = st.text(alphabet=string.punctuation + " \t\n\r", max_size=4)


@st.composite
def random_case(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if flip else c.upper() for c, flip in zip(word, flips, strict=True))


def dressed(words: frozenset[str]) -> st.SearchStrategy[str]:
    """One of `words` in random case, with random punctuation/whitespace around it (and
    any run of spaces inside a two-word keyword)."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        word = draw(st.sampled_from(sorted(words)))
        inner = draw(st.sampled_from([" ", "  ", "\t", " \n "]))
        core = draw(random_case(word)).replace(" ", inner)
        return draw(PUNCTUATION) + core + draw(PUNCTUATION)

    return build()


@given(dressed(OPT_OUT_WORDS))
@example("STOP")
@example("stop.")
@example("Opt Out")
@example("REVOKE")
@example("OPTOUT")
def test_every_opt_out_word_alone_is_an_opt_out(text: str) -> None:
    assert parse_keyword(text) == Keyword.OPT_OUT


@given(dressed(OPT_IN_WORDS))
def test_every_opt_in_word_alone_is_an_opt_in(text: str) -> None:
    assert parse_keyword(text) == Keyword.OPT_IN


@given(dressed(HELP_WORDS))
def test_every_help_word_alone_is_help(text: str) -> None:
    assert parse_keyword(text) == Keyword.HELP


SENTENCE_WORDS = st.sampled_from(["please", "can", "you", "my", "house", "tomorrow", "the"])


@given(
    st.sampled_from(sorted(OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS)),
    st.lists(SENTENCE_WORDS, min_size=1, max_size=3),
    st.lists(SENTENCE_WORDS, max_size=3),
)
@example("STOP", ["can", "you"], ["by", "tomorrow"])
def test_a_keyword_inside_a_longer_sentence_is_not_a_keyword(
    word: str, before: list[str], after: list[str]
) -> None:
    sentence = " ".join([*before, word.lower(), *after]) + "?"
    assert parse_keyword(sentence) is None
    assert parse_keyword(" ".join([word, *before])) is None  # leading keyword, more after


@given(st.text(max_size=30), st.sampled_from(["STOP", "stop", " Stop "]))
def test_opt_out_type_stop_wins_over_any_body(body: str, opt_out_type: str) -> None:
    assert parse_keyword(body, opt_out_type) == Keyword.OPT_OUT


@given(dressed(OPT_OUT_WORDS), st.sampled_from(["START", "HELP"]))
def test_opt_out_type_wins_even_over_a_keyword_body(body: str, opt_out_type: str) -> None:
    expected = Keyword.OPT_IN if opt_out_type == "START" else Keyword.HELP
    assert parse_keyword(body, opt_out_type) == expected


@pytest.mark.parametrize("text", ["", "   ", "...", None, "stopp", "S T O P", "non-stop"])
def test_near_misses_are_not_keywords(text: str | None) -> None:
    assert parse_keyword(text) is None


# -- quiet hours ------------------------------------------------------------------------------

INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
CLOCK_TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))


def open_minutes(start: time, end: time) -> int:
    """How long the day is outside the window [start, end), in minutes."""
    return (start.hour * 60 + start.minute - end.hour * 60 - end.minute) % (24 * 60)


# Windows that leave at least an hour open a day (a spring-forward night can skip less)
WINDOWS = st.one_of(
    st.just(DEFAULT_QUIET),
    st.tuples(CLOCK_TIMES, CLOCK_TIMES)
    .filter(lambda pair: open_minutes(*pair) >= 60)
    .map(lambda pair: QuietHours(*pair)),
)


def dst_change_days(zone: str) -> list[date]:
    """The days in 2021-2031 on which `zone` changes its UTC offset."""
    tz = ZoneInfo(zone)
    days = []
    day = date(2021, 1, 1)
    while day < date(2032, 1, 1):
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        if start.utcoffset() != end.utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return days


DST_DAYS = {zone: dst_change_days(zone) for zone in ZONES}


@st.composite
def around_dst_changes(draw: st.DrawFn) -> tuple[datetime, str]:
    """An instant on (or the evening before) a DST change day in a zone that has them."""
    zone = draw(st.sampled_from([z for z in ZONES if DST_DAYS[z]]))
    day = draw(st.sampled_from(DST_DAYS[zone])) - timedelta(days=draw(st.integers(0, 1)))
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return start + timedelta(seconds=draw(st.integers(0, 48 * 3600 - 1))), zone


def local_wall(instant: datetime, zone: str) -> time:
    return instant.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)


def is_first_valid_instant_at_or_after(result: datetime, wall: time, zone: str) -> bool:
    """True if `result` is the first instant whose local time is `wall`, or, when `wall`
    does not exist that day (spring forward), the first instant after the skipped gap."""
    local = result.astimezone(ZoneInfo(zone))
    if local.time().replace(tzinfo=None) == wall:
        return True
    before = (result - timedelta(microseconds=1)).astimezone(ZoneInfo(zone))
    skipped = before.utcoffset() != local.utcoffset()  # the clock jumped right here
    naive_before = before.replace(tzinfo=None)
    naive_local = local.replace(tzinfo=None)
    wall_today = datetime.combine(naive_local.date(), wall)
    return skipped and naive_before < wall_today < naive_local


def check_quiet_until(now: datetime, zone: str, quiet: QuietHours) -> None:
    result = quiet_until(now, zone, quiet)
    inside = quiet.contains(local_wall(now, zone))
    assert (result is not None) == inside
    if result is None:
        return
    assert result.tzinfo is not None and result.utcoffset() == timedelta(0)
    assert now < result <= now + timedelta(hours=25)
    assert is_first_valid_instant_at_or_after(result, quiet.end, zone)
    assert quiet.contains(local_wall(result - timedelta(seconds=1), zone))
    assert not quiet.contains(local_wall(result, zone))


@settings(max_examples=400)
@given(INSTANTS, st.sampled_from(ZONES), WINDOWS)
def test_quiet_until_ends_the_window_in_local_time(
    now: datetime, zone: str, quiet: QuietHours
) -> None:
    check_quiet_until(now, zone, quiet)


@settings(max_examples=600)
@given(around_dst_changes(), WINDOWS)
# 01:15 CST, the window's end (02:30) is skipped that night: it ends at 03:00 CDT
@example(
    (datetime(2026, 3, 8, 7, 15, tzinfo=UTC), "America/Chicago"), QuietHours(time(1), time(2, 30))
)
# the second 01:10 (CST) of a fall-back night: the window ends at the second 01:30
@example(
    (datetime(2026, 11, 1, 7, 10, tzinfo=UTC), "America/Chicago"), QuietHours(time(1), time(1, 30))
)
def test_quiet_until_across_dst_changes(case: tuple[datetime, str], quiet: QuietHours) -> None:
    now, zone = case
    check_quiet_until(now, zone, quiet)


@pytest.mark.parametrize("zone", ZONES)
def test_default_window_at_23h_ends_at_8h_next_morning(zone: str) -> None:
    tz = ZoneInfo(zone)
    now = datetime(2026, 6, 1, 23, 0, tzinfo=tz).astimezone(UTC)

    result = quiet_until(now, zone, DEFAULT_QUIET)

    assert result == datetime(2026, 6, 2, 8, 0, tzinfo=tz).astimezone(UTC)


@pytest.mark.parametrize("zone", ZONES)
def test_default_window_at_3h_ends_at_8h_the_same_morning(zone: str) -> None:
    tz = ZoneInfo(zone)
    now = datetime(2026, 1, 15, 3, 0, tzinfo=tz).astimezone(UTC)

    assert quiet_until(now, zone, DEFAULT_QUIET) == datetime(2026, 1, 15, 8, 0, tzinfo=tz)


@pytest.mark.parametrize("local", [time(8, 0), time(12, 0), time(20, 59, 59)])
def test_outside_the_default_window_nothing_waits(local: time) -> None:
    tz = ZoneInfo("America/Chicago")
    now = datetime.combine(date(2026, 6, 1), local, tzinfo=tz).astimezone(UTC)

    assert quiet_until(now, "America/Chicago", DEFAULT_QUIET) is None


def test_a_window_whose_open_gap_is_skipped_by_spring_forward_lasts_until_the_next_night() -> None:
    # 02:01-02:12 is the only time outside this window, and on 2026-03-08 Chicago skips it
    quiet = QuietHours(time(2, 12), time(2, 1))
    now = datetime(2026, 3, 7, 18, 0, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)

    result = quiet_until(now, "America/Chicago", quiet)

    assert result == datetime(2026, 3, 9, 2, 1, tzinfo=ZoneInfo("America/Chicago"))
    assert not quiet.contains(local_wall(result, "America/Chicago"))
