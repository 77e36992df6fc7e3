"""The small pure helpers: ZIPs and distances, timezones, phone numbers, slugs, quiet hours."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lily_core.domain.geo import (
    EARTH_RADIUS_MILES,
    ZipInfo,
    great_circle_miles,
    lookup_zip,
    require_timezone,
    require_zip,
)
from lily_core.domain.phone import normalize_business_phone, normalize_phone, try_normalize_phone
from lily_core.domain.tenant import (
    QuietHours,
    Tenant,
    check_missed_call_template,
    require_slug,
    slugify,
)
from lily_core.errors import InvalidInput

# --- ZIPs and distances ----------------------------------------------------------------------


def test_lookup_zip_resolves_centroid_and_timezone_offline() -> None:
    assert lookup_zip("75201") == ZipInfo(
        zip="75201",
        city="Dallas",
        state="TX",
        latitude=32.7904,
        longitude=-96.8044,
        timezone="America/Chicago",
    )
    info = lookup_zip("10001")
    assert info is not None and info.timezone == "America/New_York"


@pytest.mark.parametrize("raw", ["00000", "99999", "7520", "752011", " 75201", "7520a", ""])
def test_lookup_zip_is_none_for_anything_but_a_known_5_digit_zip(raw: str) -> None:
    assert lookup_zip(raw) is None


def _at(lat: float, lon: float) -> ZipInfo:
    return ZipInfo("00000", "Nowhere", "XX", lat, lon, None)


def test_great_circle_miles_on_a_sphere_of_3958_8_miles() -> None:
    assert EARTH_RADIUS_MILES == 3958.8
    # One degree of longitude along the equator: 3958.8 · π / 180 = 69.0941 mi.
    assert great_circle_miles(_at(0, 0), _at(0, 1)) == pytest.approx(69.0941, abs=1e-4)
    # One degree of latitude anywhere is the same arc.
    assert great_circle_miles(_at(40, -96), _at(41, -96)) == pytest.approx(69.0941, abs=1e-4)
    # Antipodes: half the circumference, 3958.8 · π = 12436.94 mi.
    assert great_circle_miles(_at(0, 0), _at(0, 180)) == pytest.approx(12436.94, abs=0.01)
    # Pole to equator: a quarter, 6218.47 mi.
    assert great_circle_miles(_at(90, 0), _at(0, 123)) == pytest.approx(6218.47, abs=0.01)


_lat = st.floats(-90, 90, allow_nan=False)
_lon = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(_lat, _lon, _lat, _lon)
def test_distance_is_symmetric_non_negative_and_at_most_half_the_circumference(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    a, b = _at(lat1, lon1), _at(lat2, lon2)

    assert great_circle_miles(a, b) == pytest.approx(great_circle_miles(b, a))
    assert 0 <= great_circle_miles(a, b) <= math.pi * EARTH_RADIUS_MILES + 1e-6
    assert great_circle_miles(a, a) == pytest.approx(0, abs=1e-6)


def test_require_zip_accepts_known_zips_and_strips_spaces() -> None:
    assert require_zip("75201") == "75201"
    assert require_zip(" 75032\n") == "75032"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("7520", "not a 5-digit US ZIP code"),
        ("75201-1234", "not a 5-digit US ZIP code"),
        ("abcde", "not a 5-digit US ZIP code"),
        ("", "not a 5-digit US ZIP code"),
        ("00000", "not a known US ZIP code"),
    ],
)
def test_require_zip_rejects_bad_and_unknown_zips(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        require_zip(raw)
    assert caught.value.field == "zip"


def test_require_zip_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        require_zip("123", field="service_area.base_zip")
    assert caught.value.field == "service_area.base_zip"


@pytest.mark.parametrize("name", ["America/Chicago", "America/New_York", "UTC", "Europe/Paris"])
def test_require_timezone_accepts_iana_names(name: str) -> None:
    assert require_timezone(name) == name


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "CST-ish", "", "../etc/passwd", "/abs"])
def test_require_timezone_rejects_anything_else(name: str) -> None:
    with pytest.raises(InvalidInput, match="not an IANA timezone") as caught:
        require_timezone(name)
    assert caught.value.field == "timezone"


def test_require_timezone_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        require_timezone("Nowhere/Town", field="tenant.timezone")
    assert caught.value.field == "tenant.timezone"


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "+12145550100",
        "+1 214 555 0100",
        "(214) 555-0100",  # national numbers are read as US numbers
        "214-555-0100",
        "2145550100",
        "1-214-555-0100",
        "  214.555.0100  ",
        "tel:+1-214-555-0100",
    ],
)
def test_normalize_phone_gives_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+12145550100"


def test_international_numbers_keep_their_country() -> None:
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    # A national number of another region, when the caller says which.
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("hello", "is not a phone number"),
        ("", "is not a phone number"),
        ("555-0100", "is not a valid phone number"),  # too short for the US
        ("+1 123 456 7890", "is not a valid phone number"),  # no area code starts with 1
        ("+1 214 555 01000", "is not a valid phone number"),  # one digit too many
        ("020 7946 0958", "is not a valid phone number"),  # a UK number read as US
    ],
)
def test_normalize_phone_rejects_garbage_and_invalid_numbers(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        normalize_phone(raw)
    assert caught.value.field == "phone"


def test_normalize_phone_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_phone("nope", field="forward_to")
    assert caught.value.field == "forward_to"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("(214) 555-0100", "+12145550100"), ("nope", None), ("", None), (None, None)],
)
def test_try_normalize_phone_is_none_instead_of_an_error(
    raw: str | None, expected: str | None
) -> None:
    assert try_normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(214) 555-0100", "+12145550100"),  # US
        ("+1 416 555 0123", "+14165550123"),  # Canada
        ("+1 787 555 0123", "+17875550123"),  # Puerto Rico: NANP too
    ],
)
def test_business_numbers_are_north_american(raw: str, e164: str) -> None:
    assert normalize_business_phone(raw) == e164


@pytest.mark.parametrize("raw", ["+442071838750", "+33 1 42 68 53 00", "+52 55 5555 5555"])
def test_business_numbers_outside_plus_1_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match=r"must be a US or Canadian \(\+1\) number") as caught:
        normalize_business_phone(raw, field="forward_to")
    assert caught.value.field == "forward_to"
    assert normalize_phone(raw).startswith("+")  # a customer may still call from one


NOW = datetime(2026, 6, 1, tzinfo=UTC)

# --- the missed-call template ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Hi, {business} here.", "{business}{business}", "No placeholder at all", ""]
)
def test_a_template_may_use_business(text: str) -> None:
    assert check_missed_call_template(text) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi {nope}", "unknown placeholder {nope}"),
        ("Hi {Business}", "unknown placeholder {Business}"),
        ("Hi { business }", "unknown placeholder { business }"),
        ("Hi {business!r}", "unknown placeholder {business!r}"),
        ("Hi {}", "unknown placeholder {}"),
        ("Hi {business", "brace"),
        ("Hi business}", "brace"),
        ("Hi {{business}}", "brace"),
        ("Hi {{", "brace"),
    ],
)
def test_a_template_with_another_placeholder_or_a_stray_brace_is_refused(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        check_missed_call_template(text, field="template")
    assert caught.value.field == "template"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab {}business"), max_size=30))
def test_an_accepted_template_renders_without_braces(text: str) -> None:
    try:
        check_missed_call_template(text)
    except InvalidInput:
        return
    tenant = Tenant(
        name="Acme", slug="acme", phone="+12145550100", missed_call_template=text, created_at=NOW
    )
    rendered = tenant.render_missed_call_text()
    assert "{" not in rendered and "}" not in rendered


# --- slugs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme Wash Co", "acme-wash-co"),
        ("  Acme   Wash  Co  ", "acme-wash-co"),
        ("Bob's Power-Wash, LLC", "bob-s-power-wash-llc"),
        ("Café Élan — Pressure Washing!", "cafe-elan-pressure-washing"),
        ("Straße 42", "strae-42"),  # ß has no ASCII decomposition: dropped
        ("ＡＣＭＥ", "acme"),  # full-width letters decompose to ASCII
        ("Lily", "lily"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize("name", ["", "   ", "!!!", "---", "日本の洗車", "🚿"])
def test_slugify_refuses_names_without_ascii_letters_or_digits(name: str) -> None:
    with pytest.raises(InvalidInput, match="cannot derive a slug") as caught:
        slugify(name)
    assert caught.value.field == "slug"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_a_derived_slug_is_always_a_valid_slug(name: str) -> None:
    try:
        slug = slugify(name)
    except InvalidInput:
        return
    assert require_slug(slug) == slug
    assert slugify(slug) == slug  # idempotent


@pytest.mark.parametrize(
    "slug", ["Acme", "acme--wash", "-acme", "acme-", "acme wash", "", "a" * 64]
)
def test_require_slug_rejects_malformed_slugs(slug: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        require_slug(slug)
    assert caught.value.field == "slug"


# --- quiet hours -----------------------------------------------------------------------------


def test_quiet_hours_parse() -> None:
    assert QuietHours.parse("21:00-08:00") == QuietHours(time(21), time(8))
    assert QuietHours.parse(" 22:30 - 07:15 ") == QuietHours(time(22, 30), time(7, 15))
    assert str(QuietHours.parse("13:05-14:00")) == "13:05-14:00"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "21:00",
        "21-08",
        "9:00-08:00",  # hours need two digits
        "24:00-08:00",
        "21:60-08:00",
        "21:00-08:00-09:00",
        "21:00–08:00",  # an en dash is not the separator
        "ab:cd-ef:gh",
        "21:00-21:00",  # an empty (or full-day) window is ambiguous
    ],
)
def test_quiet_hours_parse_errors(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        QuietHours.parse(text)
    assert caught.value.field == "quiet_hours"


def test_quiet_hours_parse_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        QuietHours.parse("late", field="--quiet-hours")
    assert caught.value.field == "--quiet-hours"


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),  # start is inside
        (time(23, 59, 59), True),
        (time(0, 0), True),  # past midnight
        (time(7, 59), True),
        (time(8, 0), False),  # end is outside
        (time(12, 0), False),
    ],
)
def test_quiet_hours_across_midnight(local: time, quiet: bool) -> None:
    assert QuietHours(time(21), time(8)).contains(local) is quiet


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(time(12, 59), False), (time(13, 0), True), (time(13, 59), True), (time(14, 0), False)],
)
def test_quiet_hours_within_a_day(local: time, quiet: bool) -> None:
    assert QuietHours(time(13), time(14)).contains(local) is quiet


_times = st.times()
_hhmm = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@settings(max_examples=200, deadline=None)
@given(_hhmm, _hhmm, _times)
def test_a_window_and_its_complement_split_the_day(start: time, end: time, local: time) -> None:
    if start == end:
        return
    window, complement = QuietHours(start, end), QuietHours(end, start)

    # Every moment is quiet in exactly one of start→end and end→start.
    assert window.contains(local) != complement.contains(local)
    assert QuietHours.parse(str(window)) == window
