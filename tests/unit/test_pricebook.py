"""Price book validation (each rule names its field) and the document round trip.

Also home of the hypothesis strategy `pricebook_docs`, which test_quoting.py reuses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lily_core.domain.pricebook import Modifier, PriceBook, Service
from lily_core.errors import InvalidInput, PriceBookInvalid

EXAMPLE_FILE = Path(__file__).parents[2] / "examples" / "pricebook.yaml"

# The DESIGN §5 example, as a literal (test_example_file_matches checks it against the file).
EXAMPLE: dict[str, Any] = {
    "currency": "USD",
    "minimum_charge": 150,
    "round_to": 5,
    "service_area": {
        "base_zip": "75201",
        "radius_miles": 30,
        "free_miles": 15,
        "travel_fee_per_mile": 2,
        "extra_zips": [],
        "excluded_zips": [],
    },
    "services": [
        {
            "key": "house_wash",
            "name": "House wash",
            "keywords": ["house", "home", "siding", "exterior"],
            "low": 250,
            "high": 450,
        },
        {
            "key": "driveway",
            "name": "Driveway / concrete",
            "keywords": ["driveway", "concrete", "sidewalk", "patio"],
            "low": 100,
            "high": 225,
        },
    ],
    "modifiers": [
        {"key": "two_story", "keywords": ["two story", "2 story", "2-story"], "multiplier": 1.25}
    ],
    "default_services": ["house_wash"],
}


def example(**top: Any) -> dict[str, Any]:
    """A deep copy of EXAMPLE with top-level keys replaced."""
    doc = copy.deepcopy(EXAMPLE)
    doc.update(top)
    return doc


# --- hypothesis strategy: random valid price book documents ---------------------------------

# Real ZIPs around Dallas at 0-48 mi from 75201, plus a few far away (Austin, NYC, LA).
REAL_ZIPS = (
    "75201", "75202", "75204", "75001", "75040", "75150", "75050", "75115", "75104",
    "75019", "75093", "76051", "75098", "75002", "75087", "75032", "76180", "75034",
    "75189", "76101", "75165", "75069", "76102", "75009", "75401", "78701", "10001",
    "90210",
)  # fmt: skip
# Service keywords and modifier phrases share no word, so adding a modifier phrase to a text
# never changes which services it names.
SERVICE_WORDS = (
    "house", "home", "siding", "driveway", "concrete", "patio", "deck", "fence", "roof",
    "gutter", "sidewalk", "pool",
)  # fmt: skip
MODIFIER_PHRASES = ("two story", "2-story", "three story", "oil stain", "rust", "mold", "steep")
# Words that contain keywords without being them: they must never match.
FILLER_WORDS = ("please", "quote", "my", "the", "and", "housework", "homes", "patios", "roofing")


def units(cents: int) -> int | float:
    """Whole currency units as a YAML/JSON number would carry them."""
    return cents // 100 if cents % 100 == 0 else float(Decimal(cents) / 100)


@st.composite
def pricebook_docs(draw: st.DrawFn, *, min_multiplier: int = 1) -> dict[str, Any]:
    """A valid price book document; multipliers are in [min_multiplier/10000, 3]."""
    step = draw(st.sampled_from([1, 5, 25, 100, 500, 1000, 2500]))
    n_services = draw(st.integers(1, 4))
    services = []
    for i in range(n_services):
        low = draw(st.integers(0, 100_000))
        service: dict[str, Any] = {
            "key": f"svc_{i}",
            "keywords": draw(st.lists(st.sampled_from(SERVICE_WORDS), max_size=3, unique=True)),
            "low": units(low),
            "high": units(low + draw(st.integers(0, 100_000))),
        }
        if draw(st.booleans()):
            service["name"] = f"Service {i}"
        services.append(service)
    modifiers = [
        {
            "key": f"mod_{i}",
            "keywords": draw(
                st.lists(st.sampled_from(MODIFIER_PHRASES), min_size=1, max_size=2, unique=True)
            ),
            "multiplier": float(Decimal(draw(st.integers(min_multiplier, 30_000))) / 10_000),
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    radius_tenths = draw(st.integers(0, 1000))
    return {
        "currency": "USD",
        "minimum_charge": units(step * draw(st.integers(0, 60))),
        "round_to": units(step),
        "service_area": {
            "base_zip": draw(st.sampled_from(REAL_ZIPS)),
            "radius_miles": units(radius_tenths * 10),
            "free_miles": units(draw(st.integers(0, radius_tenths)) * 10),
            "travel_fee_per_mile": units(draw(st.integers(0, 500))),
            "extra_zips": draw(st.lists(st.sampled_from(REAL_ZIPS), max_size=3, unique=True)),
            "excluded_zips": draw(st.lists(st.sampled_from(REAL_ZIPS), max_size=2, unique=True)),
        },
        "services": services,
        "modifiers": modifiers,
        "default_services": draw(
            st.lists(st.sampled_from([s["key"] for s in services]), max_size=2, unique=True)
        ),
    }


# --- the example -----------------------------------------------------------------------------


def test_example_file_matches_the_literal_used_by_the_tests() -> None:
    assert yaml.safe_load(EXAMPLE_FILE.read_text()) == EXAMPLE


def test_example_parses_into_cents() -> None:
    book = PriceBook.from_document(EXAMPLE)

    assert book.currency == "USD"
    assert book.minimum_charge_cents == 150_00
    assert book.round_to_cents == 5_00
    area = book.service_area
    assert area.base_zip == "75201"
    assert (area.radius_miles, area.free_miles) == (30, 15)
    assert area.travel_fee_per_mile_cents == 2_00
    assert book.services[0] == Service(
        "house_wash", "House wash", ("house", "home", "siding", "exterior"), 250_00, 450_00
    )
    # A modifier without a name gets one from its key.
    assert book.modifiers == (
        Modifier("two_story", "Two story", ("two story", "2 story", "2-story"), Decimal("1.25")),
    )
    assert book.default_services == ("house_wash",)
    assert book.service("driveway") is book.services[1]
    assert book.service("deck") is None


def test_to_document_writes_whole_units_and_derived_names() -> None:
    expected = example()
    expected["modifiers"][0]["name"] = "Two story"

    assert PriceBook.from_document(EXAMPLE).to_document() == expected


def test_optional_keys_take_their_defaults() -> None:
    book = PriceBook.from_document(
        {
            "service_area": {"base_zip": "75201", "radius_miles": 10},
            "services": [{"key": "house_wash", "low": 1, "high": 2}],
        }
    )

    assert book.currency == "USD"
    assert book.minimum_charge_cents == 0
    assert book.round_to_cents == 1_00  # whole currency units
    assert book.service_area.free_miles == 0
    assert book.service_area.travel_fee_per_mile_cents == 0
    assert book.service_area.extra_zips == book.service_area.excluded_zips == ()
    assert book.services[0].name == "House wash"
    assert book.services[0].keywords == ()
    assert book.modifiers == book.default_services == ()


def test_lenient_forms_are_normalized() -> None:
    doc = example(currency="usd", minimum_charge="150.00", round_to="5")
    doc["service_area"]["base_zip"] = 75201  # YAML reads an unquoted ZIP as an int
    doc["service_area"]["extra_zips"] = [" 75401 "]
    doc["services"][0]["keywords"] = ["  HOUSE ", "Home"]
    doc["modifiers"][0]["multiplier"] = "1.0001"  # four decimal places are allowed

    book = PriceBook.from_document(doc)

    assert book.currency == "USD"
    assert book.minimum_charge_cents == 150_00
    assert book.service_area.base_zip == "75201"
    assert book.service_area.extra_zips == ("75401",)
    assert book.services[0].keywords == ("house", "home")
    assert book.modifiers[0].multiplier == Decimal("1.0001")


def test_round_trip_keeps_amounts_a_float_cannot_hold() -> None:
    # 12345678901234567.89 has 19 significant digits; as a float it would lose the cents.
    doc = example()
    doc["services"][0]["high"] = "12345678901234567.89"

    book = PriceBook.from_document(doc)

    assert book.services[0].high_cents == 1234567890123456789
    assert PriceBook.from_document(book.to_document()) == book


# --- validation: each rule names its field ---------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting `value` at a dotted path (numbers index lists)."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return mutate


INVALID: list[tuple[str, Mutation, str]] = [
    # low > high
    ("low above high", _set("services.1.low", 226), "services[1].low"),
    # unknown keys, top level and nested
    ("unknown top key", _set("colour", "red"), "colour"),
    # YAML may give non-string keys; they neither sort together nor crash the check.
    ("unknown non-string keys", lambda doc: doc.update({None: 1, 7: 2}), "7"),
    ("unknown service key", _set("services.0.price", 3), "services[0].price"),
    ("unknown area key", _set("service_area.radius", 3), "service_area.radius"),
    ("unknown modifier key", _set("modifiers.0.factor", 2), "modifiers[0].factor"),
    # missing required keys
    ("missing services", _delete("services"), "services"),
    ("missing service_area", _delete("service_area"), "service_area"),
    ("missing base_zip", _delete("service_area.base_zip"), "service_area.base_zip"),
    ("missing radius", _delete("service_area.radius_miles"), "service_area.radius_miles"),
    ("missing service key", _delete("services.0.key"), "services[0].key"),
    ("missing low", _delete("services.0.low"), "services[0].low"),
    ("missing high", _delete("services.1.high"), "services[1].high"),
    ("missing multiplier", _delete("modifiers.0.multiplier"), "modifiers[0].multiplier"),
    ("missing modifier keywords", _delete("modifiers.0.keywords"), "modifiers[0].keywords"),
    # not numbers
    ("word as amount", _set("minimum_charge", "cheap"), "minimum_charge"),
    ("bool as amount", _set("round_to", True), "round_to"),
    ("null as amount", _set("services.0.low", None), "services[0].low"),
    ("list as amount", _set("services.0.high", [450]), "services[0].high"),
    ("NaN", _set("service_area.radius_miles", "NaN"), "service_area.radius_miles"),
    ("infinity", _set("service_area.free_miles", float("inf")), "service_area.free_miles"),
    ("too large", _set("minimum_charge", 1e30), "minimum_charge"),
    ("far too large", _set("services.0.high", "1e1000000"), "services[0].high"),
    # negative
    ("negative low", _set("services.0.low", -1), "services[0].low"),
    ("negative minimum", _set("minimum_charge", -5), "minimum_charge"),
    ("negative radius", _set("service_area.radius_miles", -1), "service_area.radius_miles"),
    (
        "negative fee",
        _set("service_area.travel_fee_per_mile", -2),
        "service_area.travel_fee_per_mile",
    ),
    # too many decimals (cents for money, 4 places for multipliers)
    ("fraction of a cent", _set("services.0.low", 250.001), "services[0].low"),
    ("float noise", _set("services.0.high", 0.1 + 0.2), "services[0].high"),
    ("five-place multiplier", _set("modifiers.0.multiplier", 1.00001), "modifiers[0].multiplier"),
    # ZIPs
    ("short ZIP", _set("service_area.base_zip", "7520"), "service_area.base_zip"),
    ("unknown ZIP", _set("service_area.base_zip", "00000"), "service_area.base_zip"),
    ("float ZIP", _set("service_area.base_zip", 75201.0), "service_area.base_zip"),
    (
        "bad extra ZIP",
        _set("service_area.extra_zips", ["75201", "abcde"]),
        "service_area.extra_zips[1]",
    ),
    (
        "bool excluded ZIP",
        _set("service_area.excluded_zips", [True]),
        "service_area.excluded_zips[0]",
    ),
    ("ZIP list as string", _set("service_area.extra_zips", "75201"), "service_area.extra_zips"),
    # duplicate keys
    ("duplicate service key", _set("services.1.key", "house_wash"), "services[1].key"),
    (
        "duplicate modifier key",
        _set("modifiers", [EXAMPLE["modifiers"][0], EXAMPLE["modifiers"][0]]),
        "modifiers[1].key",
    ),
    # default services
    ("unknown default", _set("default_services", ["deck"]), "default_services[0]"),
    ("unhashable default", _set("default_services", [{"a": 1}]), "default_services[0]"),
    ("duplicate default", _set("default_services", ["house_wash"] * 2), "default_services[1]"),
    ("defaults as string", _set("default_services", "house_wash"), "default_services"),
    # minimum vs rounding
    ("minimum off the step", _set("minimum_charge", 152), "minimum_charge"),
    ("zero step", _set("round_to", 0), "round_to"),
    # multipliers
    ("zero multiplier", _set("modifiers.0.multiplier", 0), "modifiers[0].multiplier"),
    ("negative multiplier", _set("modifiers.0.multiplier", -1.25), "modifiers[0].multiplier"),
    # not a mapping / not a list
    ("area as string", _set("service_area", "75201"), "service_area"),
    ("service as string", _set("services.0", "house"), "services[0]"),
    ("modifier as number", _set("modifiers.0", 3), "modifiers[0]"),
    ("services as mapping", _set("services", {"key": "house_wash"}), "services"),
    ("no services", _set("services", []), "services"),
    ("modifiers as string", _set("modifiers", "two_story"), "modifiers"),
    # text fields
    ("bad currency", _set("currency", "dollars"), "currency"),
    ("key with spaces", _set("services.0.key", "House Wash"), "services[0].key"),
    ("blank name", _set("services.0.name", "  "), "services[0].name"),
    ("keywords as string", _set("services.0.keywords", "house"), "services[0].keywords"),
    ("blank keyword", _set("services.0.keywords", ["house", ""]), "services[0].keywords[1]"),
    ("no modifier keywords", _set("modifiers.0.keywords", []), "modifiers[0].keywords"),
]


@pytest.mark.parametrize(
    ("mutate", "field"), [(m, f) for _, m, f in INVALID], ids=[d for d, _, _ in INVALID]
)
def test_invalid_documents_name_the_field(mutate: Mutation, field: str) -> None:
    doc = example()
    mutate(doc)

    with pytest.raises(PriceBookInvalid) as caught:
        PriceBook.from_document(doc)

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, InvalidInput)  # the HTTP layer maps InvalidInput to 4xx


@pytest.mark.parametrize("doc", [None, [], "currency: USD", 42])
def test_a_document_that_is_not_a_mapping_is_invalid(doc: object) -> None:
    with pytest.raises(PriceBookInvalid, match="must be a mapping") as caught:
        PriceBook.from_document(doc)
    assert not caught.value.field  # the document itself: no field path


def test_low_above_high_says_both_amounts() -> None:
    doc = example()
    doc["services"][0]["low"] = 500

    with pytest.raises(PriceBookInvalid, match=r"low \(500\) is greater than high \(450\)"):
        PriceBook.from_document(doc)


def test_low_equal_to_high_is_valid() -> None:
    doc = example()
    doc["services"][0]["low"] = 450

    assert PriceBook.from_document(doc).services[0].low_cents == 450_00


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(pricebook_docs())
def test_round_trip_through_the_document_is_lossless(doc: dict[str, Any]) -> None:
    book = PriceBook.from_document(doc)
    written = book.to_document()

    assert PriceBook.from_document(written) == book
    # Writing is canonical: a second round gives the same document.
    assert PriceBook.from_document(written).to_document() == written


@settings(max_examples=100, deadline=None)
@given(pricebook_docs(), st.integers(1, 100_000))
def test_any_service_with_low_above_high_is_rejected(doc: dict[str, Any], excess: int) -> None:
    index = len(doc["services"]) - 1
    service = doc["services"][index]
    service["low"] = units(round(Decimal(str(service["high"])) * 100) + excess)

    with pytest.raises(PriceBookInvalid) as caught:
        PriceBook.from_document(doc)
    assert caught.value.field == f"services[{index}].low"
