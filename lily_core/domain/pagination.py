from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Generic, TypeVar

import attrs

from lily_core.errors import InvalidInput

T = TypeVar("T")

PAGE_MAX = 200  # the most items a page of the dashboard's lists holds


@attrs.frozen
class Cursor:
    """Where a keyset-paginated list resumes: the sort key and id of the last item shown.
    Lists ordered by creation use the item's `created_at`; the dashboard's leads list uses
    `last_activity_at`, which is None for a lead with no messages yet (those come last).
    Clients see it only encoded, as an opaque string."""

    key: datetime | None
    id: str

    @property
    def created_at(self) -> datetime:
        """The key of a list ordered by creation, which is never None (InvalidInput, 422,
        for a cursor made by a list whose key may be: it cannot be for this list)."""
        if self.key is None:
            raise InvalidInput("not a valid cursor", field="cursor")
        return self.key

    def encode(self) -> str:
        stamp = self.key.isoformat() if self.key is not None else ""
        raw = f"{stamp}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            stamp, ident = raw.split("|", 1)
            key = datetime.fromisoformat(stamp) if stamp else None
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput("not a valid cursor", field="cursor") from None
        # an id is letters and digits: anything else cannot be one (nor reach a query)
        if not (ident.isascii() and ident.isalnum()) or (key is not None and key.tzinfo is None):
            raise InvalidInput("not a valid cursor", field="cursor")
        return cls(key, ident)


@attrs.frozen
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
