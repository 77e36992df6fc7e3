from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Generic, TypeVar

import attrs

from lily_core.errors import InvalidInput

T = TypeVar("T")


@attrs.frozen
class Cursor:
    """Position after the last item of a page, for lists ordered newest first."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            stamp, ident = raw.split("|", 1)
            return cls(datetime.fromisoformat(stamp), ident)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput("not a valid cursor", field="cursor") from None


@attrs.frozen
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
