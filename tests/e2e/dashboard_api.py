"""Helpers for the dashboard API's end-to-end tests: tokens, an operator caller, and a second
tenant whose ids the first must not reach."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lily_core.domain.principal import Principal, Role
from lily_core.domain.tenant import Tenant
from lily_http.api.auth import current_principal
from tests.e2e.conftest import Lily


def owner_headers(lily: Lily, tenant: Tenant | None = None) -> dict[str, str]:
    """A bearer header with a new API key of `tenant` (the harness's by default): an owner."""
    _, token = lily.container.create_api_key()((tenant or lily.tenant).slug)
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def as_operator(lily: Lily) -> Iterator[None]:
    """Every request in the block comes from an operator of the harness's tenant."""
    app: Any = lily.client.app
    app.dependency_overrides[current_principal] = lambda: Principal(
        tenant=lily.tenant, role=Role.OPERATOR
    )
    try:
        yield
    finally:
        app.dependency_overrides.pop(current_principal, None)


def other_tenant(lily: Lily) -> Tenant:
    return lily.onboard("Rival Wash", "+15125550200")


def error_of(response: Any) -> tuple[int, str, str | None]:
    """(status, error code, field) of an error answer."""
    error = response.json()["error"]
    return response.status_code, error["code"], error["field"]
