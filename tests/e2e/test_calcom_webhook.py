"""POST /webhooks/calcom/{tenant_slug} over HTTP, on the embedded default (SQLite, SQL queue),
with Cal.com-shaped signed bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.tenant import Tenant
from lily_core.ports.queue import TaskType
from lily_http.app import create_app
from tests.fixtures import webhook_samples

SECRET = "cal_webhook_secret_test"
URL = "/webhooks/calcom/sparkle-wash"
PAYLOAD: dict[str, Any] = {
    "uid": "bk_http_1",
    "title": "House wash estimate",
    "startTime": "2036-12-01T16:00:00Z",
    "endTime": "2036-12-01T17:00:00Z",
    "location": "123 Main St, Austin TX",
    "attendees": [
        {"name": "Pat Customer", "email": "pat@example.com", "phoneNumber": "+15125550100"}
    ],
}
CREATED = {"triggerEvent": "BOOKING_CREATED", "payload": PAYLOAD}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Container]]:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    container = build_container(Settings(database_url=url, _env_file=None))
    api = create_app(container)
    uow = container.uow()
    with uow.across_tenants():
        uow.tenants.add(
            Tenant(
                name="Sparkle Wash",
                slug="sparkle-wash",
                phone="+15125550199",
                review_url="https://g.page/r/sparkle/review",
                google_calendar_id="cal@example.com",
                calcom_secret=SECRET,
                created_at=datetime.now(UTC),
            )
        )
        uow.commit()
    with TestClient(api) as client:
        yield client, container


def post(client: TestClient, body: bytes, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    headers[SIGNATURE_HEADER] = sign(SECRET, body) if signature is None else signature
    return client.post(URL, content=body, headers=headers)


def count(container: Container, table: str) -> int:
    with container.engine().connect() as conn:
        set_tenant_scope(conn, None)  # every tenant's rows
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_signed_booking_is_recorded_once(app: tuple[TestClient, Container]) -> None:
    client, container = app
    body = json.dumps(CREATED).encode()

    first = post(client, body)
    again = post(client, body)

    assert (first.status_code, first.json()) == (200, {"status": "created"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert count(container, "bookings") == 1
    assert count(container, "messages") == 2  # confirmation and review request
    queue = container.queue()
    due = queue.claim(10, lease_seconds=60)
    assert sorted(t.type for t in due) == sorted([TaskType.SEND_MESSAGE, TaskType.CALENDAR_SYNC])
    assert queue.stats().scheduled == 1  # the review request, a day after the visit


def test_the_official_sample_is_accepted(app: tuple[TestClient, Container]) -> None:
    sample = webhook_samples()["calcom"]["BOOKING_CREATED"]
    client, container = app

    response = post(client, sample["raw_body"].encode(), sample["headers"][SIGNATURE_HEADER])

    assert response.json() == {"status": "created"}
    assert count(container, "bookings") == 1


@pytest.mark.parametrize("signature", ["", "0" * 64, sign("another secret", b"x")])
def test_a_bad_signature_is_403_and_stores_nothing(
    app: tuple[TestClient, Container], signature: str
) -> None:
    client, container = app

    response = post(client, json.dumps(CREATED).encode(), signature)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert (count(container, "bookings"), count(container, "webhooks")) == (0, 0)


def test_an_unknown_tenant_is_404(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    body = json.dumps(CREATED).encode()

    response = client.post(
        "/webhooks/calcom/nobody", content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)}
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"payload": {}}',
        json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": "x"}).encode(),
        json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "u"}}).encode(),
        json.dumps(
            {"triggerEvent": "BOOKING_CREATED", "payload": {**PAYLOAD, "startTime": "tomorrow"}}
        ).encode(),
        json.dumps({"triggerEvent": "BOOKING_RESCHEDULED", "payload": PAYLOAD}).encode(),
    ],
)
def test_a_malformed_body_is_400_and_stores_nothing(
    app: tuple[TestClient, Container], body: bytes
) -> None:
    client, container = app

    response = post(client, body)

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}
    assert (count(container, "bookings"), count(container, "webhooks")) == (0, 0)


def test_odd_but_readable_fields_do_not_stop_a_booking(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    odd = {
        "triggerEvent": "BOOKING_CREATED",
        "payload": {**PAYLOAD, "attendees": "Pat", "metadata": [1], "responses": 7},
    }

    response = post(client, json.dumps(odd).encode())

    assert (response.status_code, response.json()) == (200, {"status": "created"})


def test_other_triggers_are_acknowledged_and_ignored(app: tuple[TestClient, Container]) -> None:
    client, container = app
    body = json.dumps({"triggerEvent": "MEETING_ENDED", "payload": {"uid": "bk_http_1"}}).encode()

    response = post(client, body)

    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert (count(container, "bookings"), count(container, "webhooks")) == (0, 0)


def test_a_cancellation_over_http(app: tuple[TestClient, Container]) -> None:
    client, container = app
    post(client, json.dumps(CREATED).encode())
    cancelled = {**CREATED, "triggerEvent": "BOOKING_CANCELLED"}

    response = post(client, json.dumps(cancelled).encode())

    assert response.json() == {"status": "cancelled"}
    with container.engine().connect() as conn:
        set_tenant_scope(conn, None)  # every tenant's rows
        status = conn.execute(sa.text("SELECT status FROM bookings")).scalar_one()
    assert status == "cancelled"
