"""What the dashboard's lead search matches (DESIGN §4.2 `GET /api/v1/leads?q=`)."""

from __future__ import annotations

import re

import attrs

from lily_core.domain.sanitize import clean_text

__all__ = ["END_MIN", "SEARCH_MAX", "START_MIN", "LeadSearch", "phone_index_keys"]

SEARCH_MAX = 100
# The fewest digits a number is found by: its first three (country and area code) or its
# last four. Shorter fragments would find most numbers and say most about each.
START_MIN = 3
END_MIN = 4
# Written like a phone number: digits with the usual punctuation, "+1 (214) 555-0123".
_PHONE_LIKE = re.compile(r"[\d\s().+-]+")


@attrs.frozen
class LeadSearch:
    """A lead matches when `text` is part of its name or email (ignoring case). A search
    written like a phone number (`digits` set) matches phone numbers instead, and only
    them: those that start with the digits (at least START_MIN of them, the country code 1
    counted when added), with or without the country code 1, or end with them (at least
    END_MIN) -- "0123", "214555" and "(214) 555" all find +12145550123; a fragment from
    the middle of a number ("4555") does not. The rule is a set of keys a number is indexed
    under (`phone_index_keys`), so storage can keep them as blind indexes."""

    text: str
    digits: str | None = None

    @classmethod
    def parse(cls, raw: str | None) -> LeadSearch | None:
        """The search for what was typed; None (everything matches) for blank input.
        Longer input is cut at SEARCH_MAX characters."""
        text = clean_text(raw or "").strip()[:SEARCH_MAX]
        if not text:
            return None
        digits = re.sub(r"\D", "", text) if _PHONE_LIKE.fullmatch(text) else ""
        return cls(text.lower(), digits or None)

    @property
    def phone_keys(self) -> frozenset[str]:
        """The keys of `phone_index_keys` a matching number has one of (empty for a text
        search, or for digits too few to be a start or an end)."""
        if self.digits is None:
            return frozenset()
        starts = {f"^{d}" for d in (self.digits, f"1{self.digits}") if len(d) >= START_MIN}
        ends = {f"${self.digits}"} if len(self.digits) >= END_MIN else set()
        return frozenset(starts | ends)

    def matches(self, name: str | None, email: str | None, phone: str | None) -> bool:
        """The rule itself, for the in-memory fake; SQL adapters express it as a query."""
        if self.digits is not None:
            return phone is not None and not self.phone_keys.isdisjoint(phone_index_keys(phone))
        return self.text in (name or "").lower() or self.text in (email or "").lower()


def phone_index_keys(phone: str) -> frozenset[str]:
    """What an E.164 number is found by: "^" and each start of its digits of START_MIN or
    more, "$" and each end of END_MIN or more ("^121", ..., "^12145550123", "$0123", ...,
    "$12145550123" for +12145550123)."""
    digits = phone.removeprefix("+")
    starts = {f"^{digits[:n]}" for n in range(START_MIN, len(digits) + 1)}
    ends = {f"${digits[-n:]}" for n in range(END_MIN, len(digits) + 1)}
    return frozenset(starts | ends)
