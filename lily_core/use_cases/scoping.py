"""Finding one thing of the caller's tenant for the dashboard API: another tenant's id is not
found, exactly like a missing one (DESIGN §4.2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from lily_core.errors import NotFound

__all__ = ["find_in_tenant", "is_entity_id"]

E = TypeVar("E")

# What lily_core.domain.ids.new_id makes: a UUID4 as 32 lower-case hex digits.
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def is_entity_id(value: str) -> bool:
    """Whether `value` could be the id of something Lily stored (a string that cannot is
    never looked up: it may hold what a database refuses, such as a NUL)."""
    return bool(_ID_RE.match(value))


def find_in_tenant(
    get: Callable[[str, str], E | None], tenant_id: str, entity_id: str, what: str
) -> E:
    """`get(tenant_id, entity_id)` (a repository's tenant-scoped `get`), or NotFound."""
    found = get(tenant_id, entity_id) if is_entity_id(entity_id) else None
    if found is None:
        raise NotFound(f"no such {what}")
    return found
