"""What the dashboard's lead search matches (DESIGN §4.2 `GET /api/v1/leads?q=`)."""

from __future__ import annotations

import re

import attrs

from lily_core.domain.sanitize import clean_text

__all__ = ["END_MIN", "SEARCH_MAX", "START_KEY_MAX", "START_MIN", "LeadSearch", "phone_index_keys"]

SEARCH_MAX = 100
# The fewest digits a number is found by: its first three (country and area code) or its
# last four. Shorter fragments would find most numbers and say most about each.
START_MIN = 3
END_MIN = 4
# A number is indexed under its starts of START_MIN to START_KEY_MAX digits (country code,
# area code and exchange, for a US number) and its end of END_MIN: six keys, where a key for
# every start and end would take seventeen. A longer search is narrowed by the key of its
# first START_KEY_MAX or last END_MIN digits -- a few numbers of a tenant share either --
# and decided by `LeadSearch.matches` on each of those.
START_KEY_MAX = 7
# Written like a phone number: digits with the usual punctuation, "+1 (214) 555-0123".
_PHONE_LIKE = re.compile(r"[\d\s().+-]+")


@attrs.frozen
class LeadSearch:
    """A lead matches when `text` is part of its name or email (ignoring case). A search
    written like a phone number (`digits` set) matches phone numbers instead, and only
    them: those that start with the digits (at least START_MIN of them, the country code 1
    counted when added), with or without the country code 1, or end with them (at least
    END_MIN) -- "0123", "214555" and "(214) 555" all find +12145550123; a fragment from
    the middle of a number ("4555") does not. Storage finds the numbers by keys it can keep
    as blind indexes: every match has one of the search's `phone_keys` among its own
    (`phone_index_keys`), and when `keys_are_exact`, every number that has one matches."""

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
        search, or for digits too few to be a start or an end): its starts cut at
        START_KEY_MAX digits, its end cut at END_MIN."""
        if self.digits is None:
            return frozenset()
        starts = {f"^{d[:START_KEY_MAX]}" for d in _as_starts(self.digits)}
        ends = {f"${self.digits[-END_MIN:]}"} if len(self.digits) >= END_MIN else set()
        return frozenset(starts | ends)

    @property
    def keys_are_exact(self) -> bool:
        """Whether every number with one of `phone_keys` matches: none of them was cut
        (else the keys only narrow the search, and `matches` decides)."""
        if self.digits is None:
            return False
        return len(self.digits) <= END_MIN and len(f"1{self.digits}") <= START_KEY_MAX

    def matches(self, name: str | None, email: str | None, phone: str | None) -> bool:
        """The rule itself: the in-memory fake's whole search, and what a SQL adapter
        decides the numbers its keys found by when they are not `keys_are_exact`."""
        if self.digits is not None:
            if phone is None:
                return False
            number = phone.removeprefix("+")
            if any(number.startswith(d) for d in _as_starts(self.digits)):
                return True
            return len(self.digits) >= END_MIN and number.endswith(self.digits)
        return self.text in (name or "").lower() or self.text in (email or "").lower()


def _as_starts(digits: str) -> list[str]:
    """Searched digits as a number's start: as typed and with the country code 1, each if
    long enough."""
    return [d for d in (digits, f"1{digits}") if len(d) >= START_MIN]


def phone_index_keys(phone: str) -> frozenset[str]:
    """What an E.164 number is found by: "^" and each start of its digits of START_MIN to
    START_KEY_MAX, "$" and its end of END_MIN ("^121", "^1214", "^12145", "^121455",
    "^1214555" and "$0123" for +12145550123)."""
    digits = phone.removeprefix("+")
    top = min(START_KEY_MAX, len(digits))
    starts = {f"^{digits[:n]}" for n in range(START_MIN, top + 1)}
    ends = {f"${digits[-END_MIN:]}"} if len(digits) >= END_MIN else set()
    return frozenset(starts | ends)
