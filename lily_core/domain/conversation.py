"""What the conversation flow reads out of a lead's messages (a ZIP, photos) and the texts
it answers with: the prompt for what is missing, the out-of-area decline, the quote reply
and its prefilled booking link (DESIGN §2.2, §5)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lily_core.domain.geo import lookup_zip
from lily_core.domain.leads import Lead
from lily_core.domain.photos import normalize_content_type
from lily_core.domain.quoting import QuoteResult
from lily_core.domain.tenant import Tenant

__all__ = [
    "Missing",
    "booking_link",
    "decline_text",
    "extract_zip",
    "format_quote_reply",
    "is_photo",
    "pending_text",
    "prompt_text",
]

# A 5-digit group not inside a longer digit run, with an optional ZIP+4 suffix.
_CANDIDATE = re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)")
# Money before the number ("$12500", "$ 12500") or an order number ("#12345").
_MONEY_OR_SIGN_BEFORE = re.compile(r"[$#€£]\s*$")
# An international phone number running up to the number ("+49 30 12345 678"). US phone
# numbers need no rule of their own: none of their usual spellings has a standalone group of
# five digits. (libphonenumber's PhoneNumberMatcher does not help: it reads "201.20 75201"
# as a phone number and would swallow the ZIP.)
_PLUS_NUMBER_BEFORE = re.compile(r"\+[\d\s().-]*$")
_E164_MAX_DIGITS = 15
# Part of a larger number: "1,12500", "3.12500", "100-12500", "1/12500".
_NUMBER_BEFORE = re.compile(r"\d[.,/-]$")
# Continues as a number or a unit: "12500.00", "12500,5", "75201-12345", "12500%", "12500k".
_NUMBER_AFTER = re.compile(r"^(?:[.,/-]\d|\s*%)")
_CURRENCY_AFTER = re.compile(r"^\s*(?:dollars?|bucks|usd)\b", re.IGNORECASE)
_ZIP_CUE_BEFORE = re.compile(r"\bzip(?:\s*code)?\s*(?:is|:|=)?\s*$", re.IGNORECASE)
_STREET_SUFFIXES = (
    "st|street|ave|avenue|rd|road|dr|drive|ln|lane|blvd|boulevard|way|ct|court|pl|place|"
    "cir|circle|pkwy|parkway|hwy|highway|trl|trail|ter|terrace|expy|expressway|fwy|freeway"
)
# "12345 Main St", "12345 N. Central Expy": the number is a street address, not a ZIP.
_STREET_AFTER = re.compile(
    rf"^\s+((?:[A-Za-z][A-Za-z'.]*\s+|\d+(?:st|nd|rd|th)\s+){{1,3}})(?:{_STREET_SUFFIXES})\b\.?",
    re.IGNORECASE,
)
_NOT_STREET_NAMES = frozenset(
    {"and", "or", "my", "is", "the", "zip", "code", "in", "at", "for", "of", "on", "near",
     "off", "a", "to", "please", "thanks", "our", "your", "its", "it's", "im", "i'm"}
)  # fmt: skip


def _is_street_number(after: str) -> bool:
    found = _STREET_AFTER.match(after)
    if found is None:
        return False
    words = found.group(1).lower().split()
    return not any(w.strip(".") in _NOT_STREET_NAMES for w in words)


def _in_international_number(before: str) -> bool:
    """Whether five more digits would continue a "+..." phone number (at most 15 digits)."""
    found = _PLUS_NUMBER_BEFORE.search(before)
    if found is None:
        return False
    digits = sum(c.isdigit() for c in found.group())
    return digits + 5 <= _E164_MAX_DIGITS


def extract_zip(text: str | None) -> str | None:
    """The US ZIP a lead wrote anywhere in free text, or None.

    A candidate is a standalone 5-digit group (ZIP+4 `75201-1234` gives `75201`) that is a
    known US ZIP. Not candidates: digits of a phone number or of a longer digit run, prices
    (`$12500`, `12,500`, `12500.00`, `12500 dollars`), `#12345`, and street numbers
    (`12345 Main St`). A group right after "zip"/"zip code" wins; otherwise the last one
    does (people correct themselves: "not 75201, 75204")."""
    if not text:
        return None
    found: list[str] = []
    cued: list[str] = []
    for match in _CANDIDATE.finditer(text):
        before, after, zip5 = text[: match.start()], text[match.end() :], match.group(1)
        if before[-1:].isalnum() or before[-1:] == "_" or after[:1].isalnum() or after[:1] == "_":
            continue
        if _MONEY_OR_SIGN_BEFORE.search(before) or _NUMBER_BEFORE.search(before):
            continue
        if _in_international_number(before):
            continue
        if _NUMBER_AFTER.match(after) or _CURRENCY_AFTER.match(after):
            continue
        if _is_street_number(after) or lookup_zip(zip5) is None:
            continue
        found.append(zip5)
        if _ZIP_CUE_BEFORE.search(before):
            cued.append(zip5)
    if cued:
        return cued[-1]
    return found[-1] if found else None


def is_photo(media: Mapping[str, Any]) -> bool:
    """Whether a message's media entry is an image (`image/jpeg`; `image/*` for a Chatwoot
    image attachment whose exact type is known only once fetched)."""
    return normalize_content_type(str(media.get("content_type") or "")).startswith("image/")


class Missing(enum.StrEnum):
    """What the lead still has to send before a quote; stored as Conversation.last_prompt.
    PRICEBOOK marks the one "we'll get back to you" sent while the tenant has no price book."""

    BOTH = "both"
    PHOTOS = "photos"
    ZIP = "zip"
    PRICEBOOK = "pricebook"


def prompt_text(tenant: Tenant, missing: Missing) -> str:
    """One friendly SMS asking for what is missing."""
    if missing == Missing.PHOTOS:
        return (
            "Thanks! Could you text us a few photos of the area you'd like cleaned? "
            "Then we'll send your ballpark quote."
        )
    if missing == Missing.ZIP:
        return (
            "Thanks for the photos! What's the ZIP code where the job is? "
            "Then we'll send your ballpark quote."
        )
    return (
        f"Thanks for reaching out to {tenant.name}! Text us a few photos of the area you'd "
        "like cleaned and your ZIP code, and we'll send you a ballpark quote."
    )


def pending_text(tenant: Tenant) -> str:
    """Sent once when a lead has sent everything but the tenant has no price book yet."""
    return (
        f"Thanks, we've got your photos and ZIP! Someone from {tenant.name} will text you "
        "a price shortly."
    )


def decline_text(tenant: Tenant, result: QuoteResult) -> str:
    """The polite no for a ZIP outside the service area (never a price)."""
    return (
        f"Thanks for thinking of {tenant.name}! Unfortunately {result.zip} is outside the "
        "area we serve, so we can't take this job. Sorry we can't help this time."
    )


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def format_quote_reply(
    tenant: Tenant,
    result: QuoteResult,
    booking_link: str | None,
    *,
    service_names: Sequence[str] | None = None,
) -> str:
    """The quote SMS: the services (their price-book names when given, else their keys),
    the range as `$270–$590`, and the booking link (or an invitation to reply without one)."""
    names = list(service_names or [key.replace("_", " ") for key in result.services])
    what = _join(names) or "the job"
    text = (
        f"Thanks! For {what} in {result.zip}, {tenant.name}'s ballpark is "
        f"{result.range_text} (final price once we see it in person)."
    )
    if booking_link:
        return f"{text} Book a time here: {booking_link}"
    return f"{text} Reply here and we'll find a time."


def booking_link(booking_url: str | None, lead: Lead) -> str | None:
    """The tenant's booking URL with the lead prefilled for Cal.com: `name`, `email`,
    `attendeePhoneNumber` (each when known) and `metadata[lead_id]`. The URL's own query
    parameters are kept, except those it sets itself. None without a booking URL."""
    if not booking_url:
        return None
    parts = urlsplit(booking_url)
    ours: dict[str, str] = {}
    if lead.name:
        ours["name"] = lead.name
    if lead.email:
        ours["email"] = lead.email
    if lead.phone:
        ours["attendeePhoneNumber"] = lead.phone
    ours["metadata[lead_id]"] = lead.id
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    query = urlencode([*kept, *ours.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
