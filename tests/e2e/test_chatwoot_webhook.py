"""POST /webhooks/chatwoot/{tenant_slug} over HTTP on the embedded default (SQLite, SQL
queue), with the signed Chatwoot sample from contracts/ and bodies signed the same way."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dependency_injector import providers
from fastapi.testclient import TestClient

from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.leads import Channel
from lily_core.domain.tenant import Tenant
from lily_core.ports.queue import TaskType
from lily_core.testing import FakeClock
from lily_core.use_cases.pricebooks import save_pricebook
from lily_http.app import create_app
from tests.fixtures import webhook_samples
from tests.unit.test_pricebook import example

SECRET = "chatwoot_webhook_secret_test"
SAMPLE_TIME = 1795046400
URL = "/webhooks/chatwoot/sparkle-wash"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Container]]:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    container = build_container(Settings(database_url=url, _env_file=None))
    clock = FakeClock(datetime.fromtimestamp(SAMPLE_TIME, UTC))
    container.clock.override(providers.Object(clock))
    api = create_app(container)
    uow = container.uow()
    with uow.across_tenants():
        tenant = Tenant(
            name="Sparkle Wash",
            slug="sparkle-wash",
            phone="+15125550199",
            booking_url="https://cal.com/sparkle/estimate",
            chatwoot_account_id=3,
            chatwoot_inbox_id=9,
            chatwoot_secret=SECRET,
            created_at=clock.now(),
        )
        uow.tenants.add(tenant)
        doc = example()
        doc["service_area"]["base_zip"] = "78701"  # Austin
        save_pricebook(uow, clock, tenant.id, doc)
        uow.commit()
    with TestClient(api) as client:
        yield client, container
    container.shutdown_resources()


def sample() -> dict[str, Any]:
    return webhook_samples()["chatwoot"]["message_created"]  # type: ignore[no-any-return]


def signed_headers(body: bytes, timestamp: int = SAMPLE_TIME) -> dict[str, str]:
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Chatwoot-Timestamp": str(timestamp),
        "X-Chatwoot-Signature": f"sha256={mac.hexdigest()}",
    }


def sample_body(**changes: Any) -> bytes:
    payload = json.loads(sample()["raw_body"])
    payload.update(changes)
    return json.dumps(payload).encode()


def count(container: Container, table: str) -> int:
    with container.engine().connect() as conn:
        set_tenant_scope(conn, None)  # every tenant's rows
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def task_types(container: Container) -> list[str]:
    """Every task enqueued so far (replies are jittered up to 45 s)."""
    container.clock().advance(60)  # type: ignore[attr-defined]
    return sorted(t.type for t in container.queue().claim(20, lease_seconds=60))


def test_the_signed_sample_is_recorded_once_and_asks_for_the_zip(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    s = sample()
    body = s["raw_body"].encode()

    first = client.post(URL, content=body, headers=s["headers"])
    again = client.post(URL, content=body, headers=s["headers"])

    assert (first.status_code, first.json()) == (200, {"status": "conversation"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert count(container, "messages") == 2  # the inbound message and the ZIP prompt
    tenant_id = _tenant_id(container)
    with container.uow().across_tenants() as uow:
        conversation = uow.conversations.get_by_chatwoot_id(tenant_id, 77)
    assert conversation is not None and conversation.channel == Channel.CHATWOOT
    assert conversation.photo_count == 1 and conversation.last_prompt == "zip"
    # The prompt goes back into Chatwoot; the photo is copied by the worker.
    assert task_types(container) == [TaskType.CHATWOOT_REPLY, TaskType.COPY_MEDIA]


def _tenant_id(container: Container) -> str:
    with container.uow().across_tenants() as uow:
        tenant = uow.tenants.get_by_slug("sparkle-wash")
    assert tenant is not None
    return tenant.id


def test_a_zip_in_a_follow_up_quotes(app: tuple[TestClient, Container]) -> None:
    client, container = app
    client.post(URL, content=sample()["raw_body"].encode(), headers=sample()["headers"])
    body = sample_body(id=9002, content="It's in 78701", attachments=[])
    response = client.post(URL, content=body, headers=signed_headers(body))
    assert (response.status_code, response.json()) == (200, {"status": "conversation"})
    tenant_id = _tenant_id(container)
    with container.uow().across_tenants() as uow:
        quote = uow.quotes.list(tenant_id).items[0]
    assert (quote.zip, quote.in_service_area) == ("78701", True)
    assert count(container, "quotes") == 1


def test_the_query_token_of_older_chatwoot_versions_is_accepted(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    body = sample_body()
    ok = client.post(f"{URL}?token={SECRET}", content=body,
                     headers={"Content-Type": "application/json"})  # fmt: skip
    bad = client.post(f"{URL}?token=nope", content=sample_body(id=9100),
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert (ok.status_code, bad.status_code) == (200, 403)
    assert count(container, "messages") == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},  # nothing: no signature and no token
        {"X-Chatwoot-Signature": "sha256=" + "0" * 64, "X-Chatwoot-Timestamp": str(SAMPLE_TIME)},
        "stale",  # a correct signature from 10 minutes before
    ],
)
def test_a_bad_signature_is_refused_before_anything_is_stored(
    app: tuple[TestClient, Container], headers: dict[str, str] | str
) -> None:
    client, container = app
    body = sample_body()
    sent = signed_headers(body, SAMPLE_TIME - 600) if headers == "stale" else headers
    response = client.post(URL, content=body, headers=sent)
    assert response.status_code == 403
    assert count(container, "messages") == 0 and count(container, "leads") == 0


def test_an_unknown_tenant_is_404(app: tuple[TestClient, Container]) -> None:
    client, _ = app
    body = sample_body()
    assert client.post("/webhooks/chatwoot/nobody", content=body,
                       headers=signed_headers(body)).status_code == 404  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {"message_type": "outgoing"},
        {"private": True},
        {"event": "conversation_status_changed"},
        {"inbox": {"id": 10, "name": "Email"}},  # not the tenant's inbox
    ],
)
def test_what_lily_does_not_act_on_is_ignored_with_200(
    app: tuple[TestClient, Container], changes: dict[str, Any]
) -> None:
    client, container = app
    body = sample_body(**changes)
    response = client.post(URL, content=body, headers=signed_headers(body))
    assert (response.status_code, response.json()["status"]) == (200, "ignored")
    assert count(container, "messages") == 0


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", json.dumps({"event": "message_created"}).encode()]
)
def test_a_malformed_body_is_400_with_a_json_error(
    app: tuple[TestClient, Container], body: bytes
) -> None:
    client, container = app
    response = client.post(URL, content=body, headers=signed_headers(body))
    assert response.status_code == 400 and "error" in response.json()
    assert count(container, "messages") == 0
