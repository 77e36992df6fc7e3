"""The price book: a tenant's services, modifiers and service area, validated.

The document form (YAML/JSON) uses whole currency units; inside, money is integer cents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from lily_core.domain.geo import lookup_zip
from lily_core.domain.ids import new_id
from lily_core.errors import PriceBookInvalid

_KEY_RE = re.compile(r"^[a-z0-9_]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


@attrs.frozen
class Service:
    key: str
    name: str
    keywords: tuple[str, ...]
    low_cents: int
    high_cents: int


@attrs.frozen
class Modifier:
    key: str
    name: str
    keywords: tuple[str, ...]
    multiplier: Decimal


@attrs.frozen
class ServiceArea:
    base_zip: str
    radius_miles: Decimal
    free_miles: Decimal
    travel_fee_per_mile_cents: Decimal
    extra_zips: tuple[str, ...] = ()
    excluded_zips: tuple[str, ...] = ()


@attrs.frozen
class PriceBook:
    """A validated price book. Build it with `PriceBook.from_document`."""

    currency: str
    minimum_charge_cents: int
    round_to_cents: int
    service_area: ServiceArea
    services: tuple[Service, ...]
    modifiers: tuple[Modifier, ...]
    default_services: tuple[str, ...]

    @classmethod
    def from_document(cls, doc: object) -> PriceBook:
        """Validate a parsed YAML/JSON document; raise PriceBookInvalid naming the field."""
        return _parse(doc)

    def to_document(self) -> dict[str, Any]:
        """The document form, in whole currency units; `from_document` reads it back."""
        area = self.service_area
        return {
            "currency": self.currency,
            "minimum_charge": _units(self.minimum_charge_cents),
            "round_to": _units(self.round_to_cents),
            "service_area": {
                "base_zip": area.base_zip,
                "radius_miles": _num(area.radius_miles),
                "free_miles": _num(area.free_miles),
                "travel_fee_per_mile": _units(area.travel_fee_per_mile_cents),
                "extra_zips": list(area.extra_zips),
                "excluded_zips": list(area.excluded_zips),
            },
            "services": [
                {
                    "key": s.key,
                    "name": s.name,
                    "keywords": list(s.keywords),
                    "low": _units(s.low_cents),
                    "high": _units(s.high_cents),
                }
                for s in self.services
            ],
            "modifiers": [
                {
                    "key": m.key,
                    "name": m.name,
                    "keywords": list(m.keywords),
                    "multiplier": _num(m.multiplier),
                }
                for m in self.modifiers
            ],
            "default_services": list(self.default_services),
        }

    def service(self, key: str) -> Service | None:
        return next((s for s in self.services if s.key == key), None)


@attrs.define(slots=False, eq=False, kw_only=True)
class PriceBookVersion:
    """One saved version of a tenant's price book; each edit adds a version."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    version: int
    document: dict[str, Any]
    created_at: datetime

    @property
    def pricebook(self) -> PriceBook:
        return PriceBook.from_document(self.document)


def _num(value: Decimal) -> int | float | str:
    # A float only when it reads back as the same Decimal: past ~15 significant digits a float
    # would change the amount, so the exact decimal string is written instead (the parser
    # accepts numeric strings).
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(str(as_float)) == value else str(value)


def _units(cents: int | Decimal) -> int | float | str:
    return _num(Decimal(cents) / 100)


# --- validation --------------------------------------------------------------------------------

_TOP_KEYS = {
    "currency",
    "minimum_charge",
    "round_to",
    "service_area",
    "services",
    "modifiers",
    "default_services",
}
_AREA_KEYS = {
    "base_zip",
    "radius_miles",
    "free_miles",
    "travel_fee_per_mile",
    "extra_zips",
    "excluded_zips",
}
_SERVICE_KEYS = {"key", "name", "keywords", "low", "high"}
_MODIFIER_KEYS = {"key", "name", "keywords", "multiplier"}


def _fail(field: str, message: str) -> PriceBookInvalid:
    return PriceBookInvalid(message, field=field)


def _mapping(value: object, field: str, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(field, "must be a mapping")
    # str(): YAML may give non-string keys (1, null) that neither sort together nor name a field.
    unknown = sorted(map(str, set(value) - allowed))
    if unknown:
        raise _fail(f"{field}.{unknown[0]}" if field else unknown[0], "unknown key")
    missing = sorted(required - set(value))
    if missing:
        raise _fail(f"{field}.{missing[0]}" if field else missing[0], "is required")
    return value


def _decimal(
    value: object, field: str, *, minimum: Decimal = Decimal(0), places: int = 2
) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _fail(field, f"must be a number, not {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _fail(field, f"must be a number, not {value!r}") from None
    if not number.is_finite():
        raise _fail(field, "must be a finite number")
    if number < minimum:
        raise _fail(field, f"must be at least {minimum}")
    try:
        exact = number == number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than the decimal context holds (e.g. 1e30)
        raise _fail(field, "is too large") from None
    if not exact:
        raise _fail(field, f"has more than {places} decimal places")
    return number


def _cents(value: object, field: str, *, minimum: Decimal = Decimal(0)) -> int:
    return int(_decimal(value, field, minimum=minimum) * 100)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, "must be a non-empty string")
    return value.strip()


def _key(value: object, field: str) -> str:
    key = _text(value, field)
    if not _KEY_RE.match(key):
        raise _fail(field, f"{key!r} must be lower-case letters, digits and underscores")
    return key


def _keywords(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _fail(field, "must be a list of words")
    return tuple(_text(v, f"{field}[{i}]").lower() for i, v in enumerate(value))


def _zip_list(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _fail(field, "must be a list of ZIP codes")
    return tuple(_zip(v, f"{field}[{i}]") for i, v in enumerate(value))


def _zip(value: object, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(field, f"{value!r} is not a 5-digit US ZIP code")
    text = f"{value:05d}" if isinstance(value, int) else value.strip()
    if lookup_zip(text) is None:
        raise _fail(field, f"{value!r} is not a known 5-digit US ZIP code")
    return text


def _unique_keys(items: Sequence[Service | Modifier], field: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.key in seen:
            raise _fail(f"{field}[{i}].key", f"duplicate key {item.key!r}")
        seen.add(item.key)


def _parse(doc: object) -> PriceBook:
    top = _mapping(doc, "", _TOP_KEYS, {"service_area", "services"})
    currency = _text(top.get("currency", "USD"), "currency").upper()
    if not _CURRENCY_RE.match(currency):
        raise _fail("currency", f"{currency!r} is not a 3-letter currency code")
    minimum = _cents(top.get("minimum_charge", 0), "minimum_charge")
    round_to = _cents(top.get("round_to", 1), "round_to", minimum=Decimal("0.01"))
    if minimum % round_to:
        raise _fail("minimum_charge", "must be a multiple of round_to (or rounding breaks it)")

    raw_area = _mapping(
        top["service_area"], "service_area", _AREA_KEYS, {"base_zip", "radius_miles"}
    )
    area = ServiceArea(
        base_zip=_zip(raw_area["base_zip"], "service_area.base_zip"),
        radius_miles=_decimal(raw_area["radius_miles"], "service_area.radius_miles"),
        free_miles=_decimal(raw_area.get("free_miles", 0), "service_area.free_miles"),
        travel_fee_per_mile_cents=_decimal(
            raw_area.get("travel_fee_per_mile", 0), "service_area.travel_fee_per_mile"
        )
        * 100,
        extra_zips=_zip_list(raw_area.get("extra_zips"), "service_area.extra_zips"),
        excluded_zips=_zip_list(raw_area.get("excluded_zips"), "service_area.excluded_zips"),
    )

    raw_services = top["services"]
    if not isinstance(raw_services, Sequence) or isinstance(raw_services, str) or not raw_services:
        raise _fail("services", "must be a non-empty list")
    services = []
    for i, raw in enumerate(raw_services):
        field = f"services[{i}]"
        item = _mapping(raw, field, _SERVICE_KEYS, {"key", "low", "high"})
        key = _key(item["key"], f"{field}.key")
        low = _cents(item["low"], f"{field}.low")
        high = _cents(item["high"], f"{field}.high")
        if low > high:
            raise _fail(
                f"{field}.low", f"low ({item['low']}) is greater than high ({item['high']})"
            )
        name = _text(item.get("name", key.replace("_", " ").capitalize()), f"{field}.name")
        services.append(
            Service(key, name, _keywords(item.get("keywords"), f"{field}.keywords"), low, high)
        )
    _unique_keys(services, "services")

    raw_modifiers = top.get("modifiers") or []
    if not isinstance(raw_modifiers, Sequence) or isinstance(raw_modifiers, str):
        raise _fail("modifiers", "must be a list")
    modifiers = []
    for i, raw in enumerate(raw_modifiers):
        field = f"modifiers[{i}]"
        item = _mapping(raw, field, _MODIFIER_KEYS, {"key", "keywords", "multiplier"})
        key = _key(item["key"], f"{field}.key")
        multiplier = _decimal(item["multiplier"], f"{field}.multiplier", places=4)
        if multiplier <= 0:
            raise _fail(f"{field}.multiplier", "must be greater than 0")
        keywords = _keywords(item["keywords"], f"{field}.keywords")
        if not keywords:
            raise _fail(f"{field}.keywords", "must name at least one keyword")
        name = _text(item.get("name", key.replace("_", " ").capitalize()), f"{field}.name")
        modifiers.append(Modifier(key, name, keywords, multiplier))
    _unique_keys(modifiers, "modifiers")

    raw_defaults = top.get("default_services") or []
    if not isinstance(raw_defaults, Sequence) or isinstance(raw_defaults, str):
        raise _fail("default_services", "must be a list of service keys")
    keys = {s.key for s in services}
    defaults = []
    for i, key in enumerate(raw_defaults):
        if not isinstance(key, str) or key not in keys:
            raise _fail(f"default_services[{i}]", f"{key!r} is not a service key")
        # A repeated default would be summed twice and double the quote.
        if key in defaults:
            raise _fail(f"default_services[{i}]", f"{key!r} is listed twice")
        defaults.append(key)

    return PriceBook(
        currency=currency,
        minimum_charge_cents=minimum,
        round_to_cents=round_to,
        service_area=area,
        services=tuple(services),
        modifiers=tuple(modifiers),
        default_services=tuple(defaults),
    )
