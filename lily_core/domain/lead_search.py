"""What the dashboard's lead search matches (DESIGN §4.2 `GET /api/v1/leads?q=`)."""

from __future__ import annotations

import re

import attrs

from lily_core.domain.sanitize import clean_text

__all__ = ["SEARCH_MAX", "LeadSearch"]

SEARCH_MAX = 100
# Written like a phone number: digits with the usual punctuation, "+1 (214) 555-0123".
_PHONE_LIKE = re.compile(r"[\d\s().+-]+")


@attrs.frozen
class LeadSearch:
    """A lead matches when `text` is part of its name or email (ignoring case). A search
    written like a phone number (`digits` set) matches phone numbers instead, and only
    them: those that start with the digits, with or without the country code 1, or end
    with them -- "0123", "214555" and "(214) 555" all find +12145550123; a fragment from
    the middle of a number ("4555") does not."""

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
    def phone_prefixes(self) -> tuple[str, ...]:
        """The starts of an E.164 number the digits match: "+<digits>" and "+1<digits>"
        (empty for a text search)."""
        if self.digits is None:
            return ()
        return (f"+{self.digits}", f"+1{self.digits}")

    def matches(self, name: str | None, email: str | None, phone: str | None) -> bool:
        """The rule itself, for the in-memory fake; SQL adapters express it as a query."""
        if self.digits is not None:
            number = phone or ""
            return number.startswith(self.phone_prefixes) or number.endswith(self.digits)
        return self.text in (name or "").lower() or self.text in (email or "").lower()
