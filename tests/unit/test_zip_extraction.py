"""extract_zip: a ZIP anywhere in a lead's text; never a phone number, a price, part of a
longer number or a street number."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lily_core.domain.conversation import extract_zip
from tests.unit.test_pricebook import REAL_ZIPS

FILLER = ("hi", "my", "house", "is", "at", "the", "zip", "thanks", "please", "driveway",
          "Dallas", "TX", "call", "me", "budget", "about", "ok", "and", "2", "story", "?", "!",
          "-", "here's", "photos", "in")  # fmt: skip


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    area = draw(st.integers(200, 999))
    exchange = draw(st.integers(200, 999))
    line = draw(st.integers(0, 9999))
    a, e, n = f"{area}", f"{exchange}", f"{line:04d}"
    formats = (
        f"{a}-{e}-{n}", f"({a}) {e}-{n}", f"({a}) {e} {n}", f"+1{a}{e}{n}", f"{a}{e}{n}",
        f"{a}.{e}.{n}", f"1-{a}-{e}-{n}", f"+1 {a} {e} {n}", f"1{a}{e}{n}",
    )  # fmt: skip
    return draw(st.sampled_from(formats))


@st.composite
def prices(draw: st.DrawFn) -> str:
    # Five-digit amounts too: the ones most easily mistaken for a ZIP (75201 dollars...).
    amount = draw(st.sampled_from([int(z) for z in REAL_ZIPS]) | st.integers(10000, 99999))
    cents = draw(st.integers(0, 99))
    formats = (
        f"${amount}", f"$ {amount}", f"{amount:,}", f"${amount:,}", f"{amount}.{cents:02d}",
        f"${amount:,}.{cents:02d}", f"{amount} dollars", f"{amount} bucks", f"{amount:,} USD",
    )  # fmt: skip
    return draw(st.sampled_from(formats))


def noise() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(FILLER), phone_numbers(), prices())


def sentence(parts: list[str]) -> str:
    return " ".join(parts)


@settings(max_examples=300)
@given(
    before=st.lists(noise(), max_size=6),
    after=st.lists(noise(), max_size=6),
    zip_code=st.sampled_from(REAL_ZIPS),
    plus4=st.booleans(),
    punct=st.sampled_from(["", ".", ",", "!", "?", ")"]),
)
def test_a_zip_in_random_text_is_found(
    before: list[str], after: list[str], zip_code: str, plus4: bool, punct: str
) -> None:
    written = f"{zip_code}-1234" if plus4 else zip_code
    text = sentence([*before, written + punct, *after])
    assert extract_zip(text) == zip_code


@settings(max_examples=300)
@given(parts=st.lists(noise(), min_size=1, max_size=8))
def test_phone_numbers_and_prices_are_never_zips(parts: list[str]) -> None:
    assert extract_zip(sentence(parts)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("75201", "75201"),
        ("My zip code is 75204, thanks", "75204"),
        ("ZIP:75201", "75201"),
        ("(75201)", "75201"),
        ("75201-1234", "75201"),
        ("not 75201, sorry: 75204", "75204"),  # people correct themselves: the last wins
        ("zip 75201, the budget is 75204 or so", "75201"),  # ...unless one is called a zip
        ("12345 Main St, Dallas TX 75204", "75204"),
        ("I'm at 12345 N. Central Expy", None),  # a street number
        ("75201 and my street is Elm", "75201"),
        ("call 214-555-0100", None),
        ("(214) 555 0100", None),
        ("+12145550100", None),
        ("2145550100", None),
        ("+49 30 12345 678", None),  # an international number
        ("+12145550100 75201", "75201"),
        ("$12500", None),
        ("12,500", None),
        ("12500.00", None),
        ("about 75201 dollars", None),
        ("order #75201", None),
        ("1234567", None),  # part of a longer run
        ("752011", None),
        ("75201-12345", None),
        ("A75201", None),
        ("00000", None),  # not a real ZIP
        ("", None),
        (None, None),
    ],
)
def test_examples(text: str | None, expected: str | None) -> None:
    assert extract_zip(text) == expected
