from __future__ import annotations

import enum
import re
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import attrs

from lily_core.domain.geo import great_circle_miles, lookup_zip
from lily_core.domain.money import format_money, format_range, to_cents
from lily_core.domain.pricebook import PriceBook


class LineKind(enum.StrEnum):
    SERVICE = "service"
    MODIFIER = "modifier"
    TRAVEL = "travel"
    MINIMUM = "minimum"
    ROUNDING = "rounding"


@attrs.frozen
class QuoteLine:
    """One step that changed the range; `low_cents`/`high_cents` are what it added."""

    kind: LineKind
    key: str
    label: str
    low_cents: int
    high_cents: int

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "key": self.key,
            "label": self.label,
            "low_cents": self.low_cents,
            "high_cents": self.high_cents,
        }


@attrs.frozen
class QuoteResult:
    """A ballpark range for a ZIP and a description, or the reason the ZIP is not served."""

    zip: str
    in_service_area: bool
    low_cents: int
    high_cents: int
    currency: str
    lines: tuple[QuoteLine, ...]
    services: tuple[str, ...]
    distance_miles: float | None
    reason: str | None = None

    @property
    def range_text(self) -> str:
        return format_range(self.low_cents, self.high_cents, self.currency)

    @property
    def explanation(self) -> str:
        if not self.in_service_area:
            return f"Out of the service area: {self.reason}"
        return "\n".join(line.label for line in self.lines) + f"\nTotal: {self.range_text}"


@lru_cache(maxsize=1024)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A case-insensitive pattern matching `keyword` as whole words (any spacing between)."""
    words = r"\s+".join(re.escape(w) for w in keyword.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def mentions(text: str, keywords: tuple[str, ...]) -> bool:
    return any(keyword_pattern(k).search(text) for k in keywords)


def _round_to_multiple(amount: Decimal, step: int) -> Decimal:
    return (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


class QuotingService:
    """Prices a job from a tenant's price book, in the order DESIGN §5 gives: services →
    modifiers → travel fee → minimum charge → rounding. Pure and deterministic."""

    def quote(self, pricebook: PriceBook, zip_code: str, text: str = "") -> QuoteResult:
        """Quote the services named in `text` (else the default ones) for `zip_code`."""
        cur = pricebook.currency
        area = pricebook.service_area
        where = lookup_zip(zip_code)
        base = lookup_zip(area.base_zip)
        distance = great_circle_miles(base, where) if where and base else None

        def out(reason: str) -> QuoteResult:
            return QuoteResult(zip_code, False, 0, 0, cur, (), (), distance, reason)

        if where is None:
            return out(f"{zip_code} is not a known US ZIP code")
        if zip_code in area.excluded_zips:
            return out(f"{zip_code} is excluded from the service area")
        if (
            zip_code not in area.extra_zips
            and distance is not None
            and distance > area.radius_miles
        ):
            return out(f"{zip_code} is {distance:.1f} mi away (limit {area.radius_miles} mi)")

        named = tuple(s for s in pricebook.services if mentions(text, s.keywords))
        chosen = named or tuple(
            s for key in pricebook.default_services if (s := pricebook.service(key)) is not None
        )
        lines: list[QuoteLine] = []
        low = high = Decimal(0)
        for service in chosen:
            low += service.low_cents
            high += service.high_cents
            label = f"{service.name}: {format_range(service.low_cents, service.high_cents, cur)}"
            if not named:
                label += " (default service)"
            lines.append(
                QuoteLine(
                    LineKind.SERVICE, service.key, label, service.low_cents, service.high_cents
                )
            )

        for modifier in pricebook.modifiers:
            if not mentions(text, modifier.keywords):
                continue
            new_low, new_high = low * modifier.multiplier, high * modifier.multiplier
            add_low, add_high = (
                to_cents(new_low) - to_cents(low),
                to_cents(new_high) - to_cents(high),
            )
            lines.append(
                QuoteLine(
                    LineKind.MODIFIER,
                    modifier.key,
                    # A discount (multiplier < 1) adds a negative amount: no "+" before it.
                    f"{modifier.name} ×{modifier.multiplier}: "
                    f"{'+' if add_high >= 0 else ''}{format_range(add_low, add_high, cur)}",
                    add_low,
                    add_high,
                )
            )
            low, high = new_low, new_high

        if distance is not None and distance > area.free_miles and area.travel_fee_per_mile_cents:
            extra_miles = Decimal(str(distance)) - area.free_miles
            fee = to_cents(extra_miles * area.travel_fee_per_mile_cents)
            low, high = low + fee, high + fee
            lines.append(
                QuoteLine(
                    LineKind.TRAVEL,
                    "travel",
                    f"Travel: {distance:.1f} mi, {extra_miles:.1f} beyond "
                    f"{area.free_miles} free × "
                    f"{format_money(to_cents(area.travel_fee_per_mile_cents), cur)}"
                    f"/mi: +{format_money(fee, cur)}",
                    fee,
                    fee,
                )
            )

        minimum = pricebook.minimum_charge_cents
        if low < minimum or high < minimum:
            # Each line adds the change in the whole-cent running total, so the lines of the
            # explanation add up to the quoted range to the cent.
            new_low, new_high = max(low, Decimal(minimum)), max(high, Decimal(minimum))
            add_low, add_high = (
                to_cents(new_low) - to_cents(low),
                to_cents(new_high) - to_cents(high),
            )
            low, high = new_low, new_high
            lines.append(
                QuoteLine(
                    LineKind.MINIMUM,
                    "minimum_charge",
                    f"Minimum charge: {format_money(minimum, cur)}",
                    add_low,
                    add_high,
                )
            )

        step = pricebook.round_to_cents
        final_low, final_high = _round_to_multiple(low, step), _round_to_multiple(high, step)
        if final_low != low or final_high != high:
            lines.append(
                QuoteLine(
                    LineKind.ROUNDING,
                    "round_to",
                    f"Rounded to the nearest {format_money(step, cur)}",
                    int(final_low) - to_cents(low),
                    int(final_high) - to_cents(high),
                )
            )
        return QuoteResult(
            zip_code,
            True,
            int(final_low),
            int(final_high),
            cur,
            tuple(lines),
            tuple(s.key for s in chosen),
            distance,
        )
