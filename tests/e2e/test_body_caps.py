"""Every route that reads a body caps it while it streams in: a body over the cap is a 413
after at most the cap (plus one chunk) was read, whether it declares its length or comes
chunked without one; a Content-Length over the cap is refused before anything is read.

The app is driven through httpx's ASGI transport, which hands the body to the app one
chunk at a time as the app asks for it, so counting the chunks handed out measures what
the route read (and held)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from lily_adapters.container import build_container
from lily_adapters.photos.local import LocalPhotoStore
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_core.domain.tenant import Tenant
from lily_http.app import create_app
from lily_http.routes import calcom, chatwoot, twilio, uploads

CHUNK = 64 * 1024
HUGE = 50 * 1024 * 1024  # what the chunked bodies would send if nothing stopped them
SECRET = "calcom-secret"
ROUTES = [
    ("/webhooks/twilio/sms", twilio.MAX_BODY_BYTES),
    ("/webhooks/calcom/acme", calcom.MAX_BODY_BYTES),
    ("/webhooks/chatwoot/acme", chatwoot.MAX_BODY_BYTES),
    ("/api/v1/uploads/local/tenants/t1/uploads/a.jpg", uploads.MAX_BODY_BYTES),
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path / 'lily.db'}"
    migrate.upgrade(url)
    container = build_container(Settings(database_url=url, _env_file=None))
    store = LocalPhotoStore(tmp_path / "photos", "signing-key", "http://testserver")
    container.photo_store.override(providers.Object(store))
    with container.uow().across_tenants() as uow:
        uow.tenants.add(Tenant(name="Acme", slug="acme", phone="+15125550100",
                               calcom_secret=SECRET, created_at=datetime.now(UTC)))  # fmt: skip
        uow.commit()
    yield create_app(container)
    container.shutdown_resources()


class Body:
    """A request body of `size` bytes handed out in chunks; `sent` counts what was taken."""

    def __init__(self, size: int, data: bytes | None = None) -> None:
        self.data = data if data is not None else b"x" * size
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < len(self.data):
            chunk = self.data[self.sent : self.sent + CHUNK]
            self.sent += len(chunk)
            yield chunk


def post(app: FastAPI, path: str, body: Body, headers: dict[str, str]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(path, content=body.__aiter__(), headers=headers)

    return asyncio.run(send())


@pytest.mark.parametrize(("path", "cap"), ROUTES)
def test_a_chunked_body_over_the_cap_is_413_and_read_no_further(
    app: FastAPI, path: str, cap: int
) -> None:
    body = Body(HUGE)

    response = post(app, path, body, {"Content-Type": "multipart/form-data; boundary=x"})

    assert response.status_code == 413, response.text
    assert response.json()["error"]["message"] == f"the body is larger than {cap} bytes"
    assert cap < body.sent <= cap + CHUNK  # not the 50 MB it had to give


@pytest.mark.parametrize(("path", "cap"), ROUTES)
def test_a_declared_length_over_the_cap_is_413_before_reading(
    app: FastAPI, path: str, cap: int
) -> None:
    body = Body(cap + 1)

    response = post(app, path, body, {"Content-Length": str(cap + 1)})

    assert response.status_code == 413
    assert body.sent == 0


def test_a_chunked_body_under_the_cap_is_read_whole(app: FastAPI) -> None:
    payload = {"triggerEvent": "MEETING_ENDED", "payload": {"notes": "n" * 300_000}}
    data = json.dumps(payload).encode()
    body = Body(len(data), data)

    response = post(app, "/webhooks/calcom/acme", body, {SIGNATURE_HEADER: sign(SECRET, data)})

    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert body.sent == len(data)


def test_a_form_under_the_cap_is_parsed_after_the_capped_read(app: FastAPI) -> None:
    # Twilio's form is read through the cap first; the form parser then reads the cached body.
    data = b"To=%2B15125550100&From=%2B15125550123&Body=" + b"b" * 30_000
    body = Body(len(data), data)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"}

    response = post(app, "/webhooks/twilio/sms", body, headers)

    assert response.status_code == 403  # found the tenant by the form's To: it was parsed
