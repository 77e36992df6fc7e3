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
    """A lead matches when `text` is part of its name or email (ignoring case), or when
    `digits` (set only for a search written like a phone number) are part of its phone
    number: "0123", "214555" and "(214) 555" all find +12145550123."""

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

    def matches(self, name: str | None, email: str | None, phone: str | None) -> bool:
        """The rule itself, for the in-memory fake; SQL adapters express it as a query."""
        return (
            self.text in (name or "").lower()
            or self.text in (email or "").lower()
            or (self.digits is not None and self.digits in (phone or ""))
        )
