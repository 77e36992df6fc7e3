"""Helpers for the dashboard API's end-to-end tests: tokens (API keys and users' sign-in), an
operator caller, a second tenant whose ids the first must not reach, and the leads, quotes
and bookings a test stores directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from starlette.testclient import TestClient

from lily_core.domain.leads import Lead
from lily_core.domain.principal import Principal, Role
from lily_core.domain.records import Booking, Quote, User
from lily_core.domain.tenant import Tenant
from lily_http.api.auth import current_principal
from tests.e2e.conftest import START, Lily

EMAIL, PASSWORD = "owner@acme.test", "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def owner_headers(lily: Lily, tenant: Tenant | None = None) -> dict[str, str]:
    """A bearer header with a new API key of `tenant` (the harness's by default): an owner."""
    _, token = lily.container.create_api_key()((tenant or lily.tenant).slug)
    return bearer(token)


def add_user(
    lily: Lily, email: str = EMAIL, role: str = "owner", tenant: Tenant | None = None
) -> User:
    """A user of `tenant` (the harness's by default) whose password is PASSWORD."""
    return lily.container.add_user()((tenant or lily.tenant).slug, email, PASSWORD, role)


def sign_in(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = client.post(
        "/api/v1/auth/token", json={"email": email, "password": password}
    )
    return response


def user_token(lily: Lily, email: str = EMAIL) -> str:
    """The token `POST /api/v1/auth/token` gives the user with this email."""
    response = sign_in(lily.client, email)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


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


# -- things stored directly, as the flows that make them would -----------------------------


def add(lily: Lily, *entities: Any) -> None:
    """Store leads, quotes and bookings in one transaction."""
    with lily.container.uow().across_tenants() as uow:
        for entity in entities:
            repository = {Lead: uow.leads, Quote: uow.quotes, Booking: uow.bookings}
            repository[type(entity)].add(entity)  # type: ignore[attr-defined]
        uow.commit()


def a_lead(tenant: Tenant, phone: str) -> Lead:
    return Lead(tenant_id=tenant.id, phone=phone, created_at=START)


def a_quote(tenant: Tenant, lead: Lead, **kw: Any) -> Quote:
    fields: dict[str, Any] = {
        "zip": "75201",
        "in_service_area": True,
        "low_cents": 27000,
        "high_cents": 59000,
        "currency": "USD",
        "explanation": "House wash, 2 stories",
        "pricebook_version": 1,
        "created_at": START,
    }
    return Quote(tenant_id=tenant.id, lead_id=lead.id, **(fields | kw))


def a_booking(tenant: Tenant, lead: Lead, hours: int, **kw: Any) -> Booking:
    start = START + timedelta(hours=hours)
    return Booking(
        tenant_id=tenant.id,
        lead_id=lead.id,
        calcom_uid=f"uid-{lead.id}-{hours}",
        title="House wash estimate",
        start_at=start,
        end_at=start + timedelta(hours=1),
        address="1 Main St",
        attendee_name="Pat",
        created_at=START,
        updated_at=START,
        **kw,
    )
