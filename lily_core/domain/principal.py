"""Who calls the dashboard API, and what their role lets them do (DESIGN §4.2)."""

from __future__ import annotations

import enum

import attrs

from lily_core.domain.records import ApiKey, User
from lily_core.domain.tenant import Tenant
from lily_core.errors import Forbidden


class Role(enum.StrEnum):
    OWNER = "owner"  # everything
    OPERATOR = "operator"  # not the tenant's settings, price book, API keys or billing


@attrs.frozen
class Principal:
    """An authenticated caller: a user of `tenant` or one of its API keys (which act as
    owner). Every dashboard use case takes the tenant from here, never from the request."""

    tenant: Tenant
    role: Role
    user: User | None = None
    api_key: ApiKey | None = None

    def require_owner(self) -> None:
        """Raise Forbidden unless the caller is an owner."""
        if self.role is not Role.OWNER:
            raise Forbidden("only an owner may do this")
