"""Quoting, DESIGN §5: services → × modifiers → + travel fee → minimum → rounding (halves up).

The worked examples are computed by hand in the comments; the properties check the rules on
random price books against a straightforward reading of §5.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lily_core.domain.geo import great_circle_miles, lookup_zip
from lily_core.domain.money import format_money, format_range, to_cents
from lily_core.domain.pricebook import PriceBook
from lily_core.domain.quoting import LineKind, QuoteLine, QuoteResult, QuotingService
from tests.unit.test_pricebook import (
    FILLER_WORDS,
    MODIFIER_PHRASES,
    REAL_ZIPS,
    SERVICE_WORDS,
    example,
    pricebook_docs,
)

quoting = QuotingService()
EXAMPLE_BOOK = PriceBook.from_document(example())


def _book(**top: Any) -> PriceBook:
    return PriceBook.from_document(example(**top))


def _area(**changes: Any) -> dict[str, Any]:
    area: dict[str, Any] = example()["service_area"]
    area.update(changes)
    return area


# --- worked examples -----------------------------------------------------------------------


def test_default_service_in_the_base_zip() -> None:
    # The text names no service: the default, house wash, $250–$450. Distance 0 mi: no travel
    # fee. Both bounds are above the $150 minimum and already multiples of $5.
    result = quoting.quote(EXAMPLE_BOOK, "75201", "Hi, can you quote my place?")

    assert result == QuoteResult(
        zip="75201",
        in_service_area=True,
        low_cents=250_00,
        high_cents=450_00,
        currency="USD",
        lines=(
            QuoteLine(
                LineKind.SERVICE,
                "house_wash",
                "House wash: $250–$450 (default service)",
                250_00,
                450_00,
            ),
        ),
        services=("house_wash",),
        distance_miles=0.0,
    )
    assert result.range_text == "$250–$450"
    assert result.explanation == "House wash: $250–$450 (default service)\nTotal: $250–$450"


def test_the_same_math_from_the_zip_centroids() -> None:
    # 75201 Dallas (32.7904, -96.8044) → 75032 Rockwall (32.8860, -96.4095):
    #   Δlat = 0.0956° = 0.0016685 rad, Δlon = 0.3949° = 0.0068923 rad
    #   h = sin²(Δlat/2) + cos(32.7904°)·cos(32.8860°)·sin²(Δlon/2)
    #     = 6.960e-7 + 0.84062 · 0.83971 · 1.18759e-5 = 9.0789e-6
    #   d = 2 · 3958.8 · asin(√h) = 7917.6 · 0.0030131 = 23.858 mi
    dallas, rockwall = lookup_zip("75201"), lookup_zip("75032")
    assert dallas is not None and rockwall is not None
    assert (dallas.latitude, dallas.longitude) == (32.7904, -96.8044)
    assert (rockwall.latitude, rockwall.longitude) == (32.886, -96.4095)

    assert great_circle_miles(dallas, rockwall) == pytest.approx(23.858, abs=0.001)


def test_house_driveway_two_story_24_miles_away() -> None:
    # services:  house $250–$450 + driveway $100–$225       = $350.00–$675.00
    # 2-story:   × 1.25                                     = $437.50–$843.75 (+$87.50–$168.75)
    # travel:    (23.858 − 15 free) mi × $2 = 8.858 × 200¢ = 1771.6¢ → +$17.72
    #                                                       = $455.22–$861.47
    # minimum:   both above $150, no change
    # round $5:  455.22 / 5 = 91.04 → 91 → $455;  861.47 / 5 = 172.29 → 172 → $860
    result = quoting.quote(EXAMPLE_BOOK, "75032", "House and driveway, it's a 2-story")

    assert result.in_service_area
    assert (result.low_cents, result.high_cents) == (455_00, 860_00)
    assert result.services == ("house_wash", "driveway")
    assert result.distance_miles == pytest.approx(23.858, abs=0.001)
    assert [(line.kind, line.key, line.low_cents, line.high_cents) for line in result.lines] == [
        (LineKind.SERVICE, "house_wash", 250_00, 450_00),
        (LineKind.SERVICE, "driveway", 100_00, 225_00),
        (LineKind.MODIFIER, "two_story", 87_50, 168_75),
        (LineKind.TRAVEL, "travel", 17_72, 17_72),
        (LineKind.ROUNDING, "round_to", -22, -147),  # 455.22 → 455, 861.47 → 860
    ]
    assert result.explanation == (
        "House wash: $250–$450\n"
        "Driveway / concrete: $100–$225\n"
        "Two story ×1.25: +$87.50–$168.75\n"
        "Travel: 23.9 mi, 8.9 beyond 15 free × $2/mi: +$17.72\n"
        "Rounded to the nearest $5\n"
        "Total: $455–$860"
    )


def test_within_the_free_miles_there_is_no_travel_fee() -> None:
    # 75001 Addison is 11.9 mi away, inside the 15 free miles: the default $250–$450 as is.
    result = quoting.quote(EXAMPLE_BOOK, "75001", "")

    assert result.distance_miles == pytest.approx(11.884, abs=0.001)
    assert (result.low_cents, result.high_cents) == (250_00, 450_00)
    assert [line.kind for line in result.lines] == [LineKind.SERVICE]


def test_a_small_job_is_raised_to_the_minimum() -> None:
    # driveway $100–$225 at the base ZIP; the low bound is raised to the $150 minimum (+$50),
    # the high bound is above it. Both are multiples of $5: no rounding line.
    result = quoting.quote(EXAMPLE_BOOK, "75201", "Just the sidewalk please")

    assert (result.low_cents, result.high_cents) == (150_00, 225_00)
    assert result.lines[-1] == QuoteLine(
        LineKind.MINIMUM, "minimum_charge", "Minimum charge: $150", 50_00, 0
    )
    assert result.range_text == "$150–$225"


def test_halves_round_up_in_the_example_book() -> None:
    # default house $250–$450 × 1.25 (two story) = $312.50–$562.50
    # 312.50 / 5 = 62.5 → 63 → $315 ; 562.50 / 5 = 112.5 → 113 → $565
    # (banker's rounding would give 62 → $310 and 112 → $560)
    result = quoting.quote(EXAMPLE_BOOK, "75201", "it is TWO   STORY")

    assert (result.low_cents, result.high_cents) == (315_00, 565_00)
    assert result.lines[-1].kind is LineKind.ROUNDING
    assert (result.lines[-1].low_cents, result.lines[-1].high_cents) == (2_50, 2_50)


@pytest.mark.parametrize(
    ("low", "high", "expected_low", "expected_high"),
    [
        (25, 35, 30_00, 40_00),  # 25/10 = 2.5 → 3 (half-even: 2); 35/10 = 3.5 → 4
        (24.99, 35.01, 20_00, 40_00),  # 2.499 → 2; 3.501 → 4
        (15, 15, 20_00, 20_00),  # 1.5 → 2 on both bounds
        (20, 30, 20_00, 30_00),  # already multiples: unchanged
    ],
)
def test_rounding_to_the_nearest_step_halves_up(
    low: float, high: float, expected_low: int, expected_high: int
) -> None:
    book = PriceBook.from_document(
        {
            "minimum_charge": 0,
            "round_to": 10,
            "service_area": {"base_zip": "75201", "radius_miles": 30},
            "services": [{"key": "deck", "low": low, "high": high}],
            "default_services": ["deck"],
        }
    )

    result = quoting.quote(book, "75201")

    assert (result.low_cents, result.high_cents) == (expected_low, expected_high)


def test_modifiers_apply_to_both_bounds_and_multiply_together() -> None:
    # $100–$200 × 1.25 × 1.2 = × 1.5 → $150–$300 (round_to one cent, no minimum)
    book = PriceBook.from_document(
        {
            "round_to": 0.01,
            "service_area": {"base_zip": "75201", "radius_miles": 30},
            "services": [{"key": "roof", "keywords": ["roof"], "low": 100, "high": 200}],
            "modifiers": [
                {"key": "steep", "keywords": ["steep"], "multiplier": 1.25},
                {"key": "moss", "keywords": ["moss"], "multiplier": 1.2},
                {"key": "small", "keywords": ["small"], "multiplier": 0.5},
            ],
        }
    )

    result = quoting.quote(book, "75201", "steep roof with moss")

    assert (result.low_cents, result.high_cents) == (150_00, 300_00)
    # 100 × 1.25 = 125 (+25), 200 × 1.25 = 250 (+50); then 125 × 1.2 = 150 (+25), 250 × 1.2 = 300
    assert [(ln.key, ln.low_cents, ln.high_cents) for ln in result.lines] == [
        ("roof", 100_00, 200_00),
        ("steep", 25_00, 50_00),
        ("moss", 25_00, 50_00),
    ]
    # A discount reads as a negative amount, not "+$-50".
    discounted = quoting.quote(book, "75201", "small roof")
    assert (discounted.low_cents, discounted.high_cents) == (50_00, 100_00)
    assert discounted.lines[-1].label == "Small ×0.5: -$50–-$100"


@pytest.mark.parametrize(
    ("minimum", "low", "expected"),
    [
        # $1.03 × 1.5 = 154.5¢ → shown as +52¢ (155¢); 154.5 / 5 = 30.9 → 31 → 155¢
        (0, 1.03, [("a", 103), ("m", 52), ("round_to", 0)]),
        # $1.01 × 1.5 = 151.5¢ → shown as +51¢ (152¢); 151.5 / 5 = 30.3 → 30 → 150¢ (−2¢)
        (0, 1.01, [("a", 101), ("m", 51), ("round_to", -2)]),
        # 151.5¢ (shown 152¢) raised to the 155¢ minimum: +3¢; already a multiple of 5¢
        (1.55, 1.01, [("a", 101), ("m", 51), ("minimum_charge", 3)]),
    ],
)
def test_the_lines_add_up_to_the_range_when_a_modifier_leaves_half_a_cent(
    minimum: float, low: float, expected: list[tuple[str, int]]
) -> None:
    book = PriceBook.from_document(
        {
            "minimum_charge": minimum,
            "round_to": 0.05,
            "service_area": {"base_zip": "75201", "radius_miles": 30},
            "services": [{"key": "a", "keywords": ["a"], "low": low, "high": 2}],
            "modifiers": [{"key": "m", "keywords": ["m"], "multiplier": 1.5}],
        }
    )

    result = quoting.quote(book, "75201", "a m")

    assert [(ln.key, ln.low_cents) for ln in result.lines] == expected
    assert sum(ln.low_cents for ln in result.lines) == result.low_cents


def test_an_excluded_zip_is_out_of_area_even_when_close_or_listed_as_extra() -> None:
    # 75202 is 0.85 mi from the base, well inside the radius.
    book = _book(service_area=_area(excluded_zips=["75202"], extra_zips=["75202"]))

    result = quoting.quote(book, "75202", "house")

    assert result == QuoteResult(
        zip="75202",
        in_service_area=False,
        low_cents=0,
        high_cents=0,
        currency="USD",
        lines=(),
        services=(),
        distance_miles=result.distance_miles,
        reason="75202 is excluded from the service area",
    )
    assert result.explanation == "Out of the service area: 75202 is excluded from the service area"


def test_beyond_the_radius_is_out_of_area() -> None:
    result = quoting.quote(EXAMPLE_BOOK, "75401", "house")  # Greenville, 47.65 mi

    assert not result.in_service_area
    assert (result.low_cents, result.high_cents, result.lines) == (0, 0, ())
    assert result.reason == "75401 is 47.7 mi away (limit 30 mi)"


def test_an_extra_zip_beyond_the_radius_is_served_with_the_travel_fee() -> None:
    # 75401 Greenville is 47.6515 mi away, past the 30 mi radius, but listed in extra_zips.
    # travel: (47.6515 − 15) × 200¢ = 6530.3¢ → +$65.30
    # default house: 250 + 65.30 = 315.30 → 315.30/5 = 63.06 → $315
    #                450 + 65.30 = 515.30 → 515.30/5 = 103.06 → $515
    book = _book(service_area=_area(extra_zips=["75401"]))

    result = quoting.quote(book, "75401", "")

    assert result.in_service_area
    assert result.distance_miles == pytest.approx(47.6515, abs=0.0001)
    assert (result.low_cents, result.high_cents) == (315_00, 515_00)
    travel = next(line for line in result.lines if line.kind is LineKind.TRAVEL)
    assert (travel.low_cents, travel.high_cents) == (65_30, 65_30)


@pytest.mark.parametrize("zip_code", ["00000", "99999", "7520", "752011", "", "75201-1234"])
def test_an_unknown_zip_is_out_of_area(zip_code: str) -> None:
    result = quoting.quote(EXAMPLE_BOOK, zip_code, "house")

    assert not result.in_service_area
    assert (result.low_cents, result.high_cents, result.lines, result.services) == (0, 0, (), ())
    assert result.distance_miles is None
    assert result.reason == f"{zip_code} is not a known US ZIP code"


# Default services off and no minimum, so `services` shows exactly what the text named.
_NO_DEFAULTS = _book(default_services=[], minimum_charge=0)


@pytest.mark.parametrize(
    ("text", "services"),
    [
        ("house", ("house_wash",)),
        ("HOUSE", ("house_wash",)),
        ("my House.", ("house_wash",)),
        ("the house's siding", ("house_wash",)),
        ("housework", ()),
        ("houses", ()),
        ("warehouse", ()),
        ("hous e", ()),
        ("drive way", ()),
        ("Driveway and PATIO", ("driveway",)),
        ("driveway, then home", ("house_wash", "driveway")),  # price-book order
        ("", ()),
    ],
)
def test_service_keywords_match_whole_words_ignoring_case(
    text: str, services: tuple[str, ...]
) -> None:
    assert quoting.quote(_NO_DEFAULTS, "75201", text).services == services


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("2-story", True),
        ("a 2-story house", True),
        ("two story", True),
        ("two  story", True),
        ("two \n\t story", True),
        ("Two Story", True),
        ("2 story", True),
        ("twostory", False),
        ("two-story", False),  # not one of the example's keywords
        ("22-story", False),
        ("2-storey", False),
        ("story two", False),
    ],
)
def test_modifier_keywords_match_whole_phrases_with_any_spacing(text: str, matches: bool) -> None:
    result = quoting.quote(EXAMPLE_BOOK, "75201", text)

    assert any(line.kind is LineKind.MODIFIER for line in result.lines) is matches


def test_no_default_services_and_no_match_charges_the_minimum() -> None:
    # Nothing named, nothing by default: $0–$0 raised to the $150 minimum on both bounds.
    book = _book(default_services=[])

    result = quoting.quote(book, "75201", "hello there")

    assert result.in_service_area
    assert result.services == ()
    assert (result.low_cents, result.high_cents) == (150_00, 150_00)
    assert result.lines == (
        QuoteLine(LineKind.MINIMUM, "minimum_charge", "Minimum charge: $150", 150_00, 150_00),
    )


# --- money formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (270_00, "USD", "$270"),
        (270_50, "USD", "$270.50"),
        (5, "USD", "$0.05"),
        (0, "USD", "$0"),
        (1_234_567_89, "USD", "$1,234,567.89"),
        (-50, "USD", "-$0.50"),
        (-100_00, "CAD", "-$100"),
        (270_00, "EUR", "270 EUR"),
        (-1_50, "EUR", "-1.50 EUR"),
    ],
)
def test_format_money(cents: int, currency: str, text: str) -> None:
    assert format_money(cents, currency) == text


def test_format_range_uses_an_en_dash() -> None:
    assert format_range(270_00, 590_00) == "$270–$590"


@pytest.mark.parametrize(
    ("amount", "cents"), [("2.5", 3), ("3.5", 4), ("2.4999", 2), ("-2.5", -3), ("7", 7)]
)
def test_to_cents_rounds_halves_up(amount: str, cents: int) -> None:
    assert to_cents(Decimal(amount)) == cents


# --- properties --------------------------------------------------------------------------------

_CASES = (str.lower, str.upper, str.title)
_SEPARATORS = (" ", "  ", ", ", "\n", " . ", "! ")


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A customer message built from vocabulary items, and the items (lower case, single
    spaced). Items never combine into another keyword, so a keyword is named exactly when it
    is one of the items."""
    items = draw(
        st.lists(st.sampled_from(SERVICE_WORDS + MODIFIER_PHRASES + FILLER_WORDS), max_size=6)
    )
    rendered = []
    for item in items:
        inner = draw(st.sampled_from([" ", "  ", "\t", " \n "]))
        rendered.append(draw(st.sampled_from(_CASES))(item).replace(" ", inner))
    text = ""
    for piece in rendered:
        text += piece + draw(st.sampled_from(_SEPARATORS))
    return text, items


def _half_up(amount: Fraction) -> int:
    return math.floor(amount + Fraction(1, 2))


def _cents(value: Any) -> Fraction:
    return Fraction(Decimal(str(value))) * 100


def reference_quote(
    doc: dict[str, Any], zip_code: str, items: list[str]
) -> tuple[bool, int, int, tuple[str, ...]]:
    """DESIGN §5 read literally, in exact fractions, from the document (not the PriceBook):
    (in area, low cents, high cents, services)."""
    area = doc["service_area"]
    base, where = lookup_zip(area["base_zip"]), lookup_zip(zip_code)
    assert base is not None and where is not None
    distance = great_circle_miles(base, where)
    if zip_code in area["excluded_zips"] or (
        zip_code not in area["extra_zips"] and distance > Fraction(str(area["radius_miles"]))
    ):
        return False, 0, 0, ()

    said = set(items)
    named = [s for s in doc["services"] if said & set(s["keywords"])]
    by_key = {s["key"]: s for s in doc["services"]}
    chosen = named or [by_key[key] for key in doc["default_services"]]
    low = sum((_cents(s["low"]) for s in chosen), Fraction(0))
    high = sum((_cents(s["high"]) for s in chosen), Fraction(0))
    for modifier in doc["modifiers"]:
        if said & set(modifier["keywords"]):
            factor = Fraction(str(modifier["multiplier"]))
            low, high = low * factor, high * factor
    free = Fraction(str(area["free_miles"]))
    # The fee is whole cents (halves up), from the distance as written in the explanation.
    if Fraction(str(distance)) > free:
        fee = _half_up((Fraction(str(distance)) - free) * _cents(area["travel_fee_per_mile"]))
        low, high = low + fee, high + fee
    minimum = _cents(doc["minimum_charge"])
    low, high = max(low, minimum), max(high, minimum)
    step = _cents(doc["round_to"])
    return (
        True,
        int(_half_up(low / step) * step),
        int(_half_up(high / step) * step),
        tuple(s["key"] for s in chosen),
    )


def _travel_fee(result: QuoteResult) -> int:
    return next((ln.low_cents for ln in result.lines if ln.kind is LineKind.TRAVEL), 0)


_zips = st.sampled_from(REAL_ZIPS)


@settings(max_examples=200, deadline=None)
@given(pricebook_docs(), _zips, texts())
def test_quote_matches_a_literal_reading_of_the_design(
    doc: dict[str, Any], zip_code: str, text: tuple[str, list[str]]
) -> None:
    result = quoting.quote(PriceBook.from_document(doc), zip_code, text[0])

    assert (
        result.in_service_area,
        result.low_cents,
        result.high_cents,
        result.services,
    ) == reference_quote(doc, zip_code, text[1])


@settings(max_examples=150, deadline=None)
@given(pricebook_docs(), _zips, texts())
def test_bounds_are_ordered_at_least_the_minimum_and_rounded(
    doc: dict[str, Any], zip_code: str, text: tuple[str, list[str]]
) -> None:
    book = PriceBook.from_document(doc)

    result = quoting.quote(book, zip_code, text[0])

    assert result.low_cents <= result.high_cents
    assert result.low_cents % book.round_to_cents == 0
    assert result.high_cents % book.round_to_cents == 0
    if result.in_service_area:
        assert result.low_cents >= book.minimum_charge_cents
        # The lines account for every cent of the range.
        assert sum(ln.low_cents for ln in result.lines) == result.low_cents
        assert sum(ln.high_cents for ln in result.lines) == result.high_cents


@settings(max_examples=150, deadline=None)
@given(pricebook_docs(), _zips, texts())
def test_out_of_area_never_yields_a_price(
    doc: dict[str, Any], zip_code: str, text: tuple[str, list[str]]
) -> None:
    result = quoting.quote(PriceBook.from_document(doc), zip_code, text[0])

    if not result.in_service_area:
        assert (result.low_cents, result.high_cents) == (0, 0)
        assert result.lines == result.services == ()
        assert result.reason


@settings(max_examples=100, deadline=None)
@given(pricebook_docs(), _zips, texts())
def test_quoting_is_deterministic(
    doc: dict[str, Any], zip_code: str, text: tuple[str, list[str]]
) -> None:
    first = QuotingService().quote(PriceBook.from_document(doc), zip_code, text[0])
    again = QuotingService().quote(PriceBook.from_document(doc), zip_code, text[0])

    assert first == again
    assert first.explanation == again.explanation


@settings(max_examples=150, deadline=None)
@given(pricebook_docs(), _zips, _zips, texts())
def test_the_travel_fee_never_decreases_with_distance(
    doc: dict[str, Any], zip_a: str, zip_b: str, text: tuple[str, list[str]]
) -> None:
    book = PriceBook.from_document(doc)
    # Serve every ZIP so that only the distance differs.
    book = attrs.evolve(
        book,
        service_area=attrs.evolve(
            book.service_area, radius_miles=Decimal(100_000), excluded_zips=()
        ),
    )
    near, far = sorted(
        (quoting.quote(book, z, text[0]) for z in (zip_a, zip_b)),
        key=lambda r: r.distance_miles or 0.0,
    )

    assert _travel_fee(near) <= _travel_fee(far)
    assert near.low_cents <= far.low_cents
    assert near.high_cents <= far.high_cents


@settings(max_examples=150, deadline=None)
@given(pricebook_docs(min_multiplier=10_000), _zips, texts(), st.data())
def test_naming_a_modifier_of_at_least_one_never_lowers_the_bounds(
    doc: dict[str, Any], zip_code: str, text: tuple[str, list[str]], data: st.DataObject
) -> None:
    book = PriceBook.from_document(doc)
    phrase = data.draw(st.sampled_from(MODIFIER_PHRASES))

    before = quoting.quote(book, zip_code, text[0])
    after = quoting.quote(book, zip_code, f"{text[0]} {phrase}")

    assert after.low_cents >= before.low_cents
    assert after.high_cents >= before.high_cents


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(SERVICE_WORDS + MODIFIER_PHRASES), st.sampled_from(_CASES), st.data())
def test_a_keyword_matches_in_any_case_but_not_inside_a_longer_word(
    keyword: str, case: Any, data: st.DataObject
) -> None:
    book = PriceBook.from_document(
        {
            "service_area": {"base_zip": "75201", "radius_miles": 30},
            "services": [{"key": "job", "keywords": [keyword], "low": 1, "high": 2}],
        }
    )
    glued = data.draw(st.sampled_from(["x", "9", "_", "é"]))

    assert quoting.quote(book, "75201", f"({case(keyword)})").services == ("job",)
    assert quoting.quote(book, "75201", f"{glued}{keyword}").services == ()
    assert quoting.quote(book, "75201", f"{keyword}{glued}").services == ()
