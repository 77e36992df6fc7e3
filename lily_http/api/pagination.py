"""Cursor pagination of the dashboard API's lists (DESIGN §4.2): `?limit=` (default 50,
at most 200) and an opaque `?cursor=`; answers `{"items": [...], "next_cursor"}`."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from lily_core.domain.pagination import Cursor

__all__ = ["CursorParam", "LimitParam", "Paged", "cursor_from"]

T = TypeVar("T")

LimitParam = Annotated[int, Query(ge=1, le=200, description="Items per page")]
CursorParam = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page")
]


class Paged(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def cursor_from(text: str | None) -> Cursor | None:
    """The decoded cursor, or None for the first page (InvalidInput, 422, if garbled)."""
    return Cursor.decode(text) if text else None
