"""DESIGN §2.2 over Chatwoot, end to end: a contact in the tenant's Chatwoot inbox sends an
image and then their ZIP; Lily answers into that Chatwoot conversation (through Chatwoot's
API, played by the stand-in), never by SMS, and the image lands in the photo store.

The composition root is built as the e2e harness builds it, plus LILY_CHATWOOT_URL and
LILY_CHATWOOT_API_TOKEN pointing at the Chatwoot stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from lily_core.domain.leads import Channel, MessageKind, MessageStatus
from lily_core.ports.queue import QueueStats
from tests.e2e.conftest import (
    CALLER,
    Lily,
    running_lily,
)
from tests.e2e.test_quote_flow import (
    BOOKING_URL,
    JPEG,
    RANGE,
    booking_params,
    import_pricebook,
    quotes,
    settle,
)
from tests.standins.chatwoot import ChatwootStandIn
from tests.standins.twilio import TwilioStandIn

ACCOUNT_ID, INBOX_ID, CONVERSATION_ID = 3, 9, 77
SECRET = "chatwoot-webhook-secret"
API_TOKEN = "cw-test-token"
CONTACT = "Pat Customer"
EMPTY = QueueStats(scheduled=0, due=0, in_flight=0, dead=0)
_ids = count(9001)
_REDIRECT, _BLOB = "/rails/active_storage/blobs/redirect/", "/storage/blobs/"


class Attachments:
    """Chatwoot's attachment storage over real HTTP, without auth: a `data_url`
    (`/rails/active_storage/blobs/redirect/...`) answers 302 to the blob, as ActiveStorage's
    redirect controller does, and the blob is served with its content type."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.gets: list[str] = []
        files, gets = self.files, self.gets

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gets.append(self.path)
                if self.path.startswith(_REDIRECT):
                    self.send_response(302)
                    self.send_header("Location", _BLOB + self.path.removeprefix(_REDIRECT))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = files.get(self.path)
                status, ctype, data = (200, *found) if found else (404, "text/plain", b"")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def add(self, name: str, content_type: str, data: bytes) -> str:
        """Store a file; return its `data_url`."""
        self.files[_BLOB + name] = (content_type, data)
        return self.url + _REDIRECT + name

    def __enter__(self) -> Attachments:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def chatwoot() -> Iterator[ChatwootStandIn]:
    with ChatwootStandIn(api_token=API_TOKEN) as standin:
        yield standin


@pytest.fixture
def attachments() -> Iterator[Attachments]:
    with Attachments() as server:
        yield server


@pytest.fixture
def lily(
    backend: tuple[str, str | None],
    twilio: TwilioStandIn,
    chatwoot: ChatwootStandIn,
    tmp_path: Path,
) -> Iterator[Lily]:
    """The harness's Lily (same settings, clock and Twilio stand-in) with Chatwoot
    configured, and a tenant wired to Chatwoot account 3, inbox 9, with the example price
    book and a booking page."""
    with running_lily(
        backend, twilio, tmp_path, chatwoot_url=chatwoot.url, chatwoot_api_token=API_TOKEN
    ) as lily:
        import_pricebook(lily)
        lily.tenant = lily.container.update_tenant()(
            lily.tenant.slug,
            {
                "booking_url": BOOKING_URL,
                "chatwoot_account_id": str(ACCOUNT_ID),
                "chatwoot_inbox_id": str(INBOX_ID),
                "chatwoot_secret": SECRET,
            },
        )
        yield lily


def message_created(
    content: str,
    *,
    attachments: list[dict[str, Any]] | None = None,
    message_type: str = "incoming",
    message_id: int | None = None,
) -> dict[str, Any]:
    """A Chatwoot `message_created` webhook in the shape of contracts/webhook_samples.json."""
    mid = message_id if message_id is not None else next(_ids)
    contact = {"id": 501, "name": CONTACT, "email": "pat@example.com", "phone_number": CALLER,
               "type": "contact"}  # fmt: skip
    return {
        "event": "message_created",
        "id": mid,
        "content": content,
        "created_at": "2026-06-01T15:00:00.000Z",
        "message_type": message_type,
        "content_type": "text",
        "private": False,
        "sender": contact if message_type == "incoming" else {"id": 1, "type": "user"},
        "inbox": {"id": INBOX_ID, "name": "Website"},
        "account": {"id": ACCOUNT_ID, "name": "Acme Wash Co"},
        "conversation": {
            "id": CONVERSATION_ID,
            "inbox_id": INBOX_ID,
            "status": "open",
            "meta": {"sender": {"id": 501, "name": CONTACT, "type": "contact"}},
            "account_id": ACCOUNT_ID,
        },
        "attachments": [
            {"id": 300 + i, "message_id": mid, "account_id": ACCOUNT_ID, **a}
            for i, a in enumerate(attachments or [])
        ],
    }


def image(url: str) -> dict[str, Any]:
    return {"file_type": "image", "data_url": url, "thumb_url": url, "extension": None}


def post(lily: Lily, payload: dict[str, Any], *, secret: str = SECRET) -> httpx.Response:
    """POST the webhook signed as Chatwoot signs it: HMAC-SHA256 over `{timestamp}.{body}`."""
    body = json.dumps(payload).encode()
    timestamp = str(int(lily.clock.now().timestamp()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-Chatwoot-Timestamp": timestamp,
        "X-Chatwoot-Signature": f"sha256={mac.hexdigest()}",
    }
    response: httpx.Response = lily.client.post(
        f"/webhooks/chatwoot/{lily.tenant.slug}", content=body, headers=headers
    )
    return response


def posted(chatwoot: ChatwootStandIn) -> list[str]:
    """What Lily posted into the conversation, checked to be public outgoing replies."""
    for message in chatwoot.messages:
        assert (message.account_id, message.conversation_id) == (ACCOUNT_ID, CONVERSATION_ID)
        assert (message.message_type, message.private) == ("outgoing", False)
    return [m.content for m in chatwoot.messages]


def test_an_image_then_the_zip_get_one_quote_in_the_chatwoot_conversation(
    lily: Lily, chatwoot: ChatwootStandIn, attachments: Attachments
) -> None:
    photo_url = attachments.add("abc/house.jpg", "image/jpeg", JPEG)
    first = post(lily, message_created("Can you wash the house?", attachments=[image(photo_url)]))
    assert (first.status_code, first.json()) == (200, {"status": "conversation"})
    settle(lily)
    [prompt] = posted(chatwoot)
    assert "ZIP" in prompt and not RANGE.search(prompt)

    second = post(lily, message_created("It's 75201"))
    assert second.status_code == 200
    settle(lily)

    # 75201 is the base ZIP; "house" names the house wash: $250–$450.
    prompt_again, quote = posted(chatwoot)
    assert prompt_again == prompt
    assert RANGE.findall(quote) == ["$250–$450"]
    base, params = booking_params(quote)
    lead = lily.lead()
    assert base == BOOKING_URL
    assert params == {
        "name": [CONTACT],
        "email": ["pat@example.com"],
        "attendeePhoneNumber": [CALLER],
        "metadata[lead_id]": [lead.id],
    }
    assert lily.twilio.messages == []  # nothing went out as SMS
    [stored_quote] = quotes(lily)
    assert (stored_quote.zip, stored_quote.low_cents, stored_quote.high_cents) == (
        "75201", 25000, 45000,
    )  # fmt: skip
    outbound = lily.outbound()
    assert [m.kind for m in outbound] == [MessageKind.PROMPT, MessageKind.QUOTE]
    assert all(m.status == MessageStatus.SENT for m in outbound)
    assert outbound[1].provider_sid == f"chatwoot:{chatwoot.messages[1].id}"
    with lily.container.uow().across_tenants() as uow:
        conversation = uow.conversations.get_by_chatwoot_id(lily.tenant.id, CONVERSATION_ID)
    assert conversation is not None and conversation.channel == Channel.CHATWOOT

    # The image was copied into the photo store, under the tenant's prefix.
    [with_photo] = [m for m in lily.messages() if m.media]
    [entry] = with_photo.media
    assert entry["url"] == photo_url and entry["content_type"] == "image/jpeg"
    assert entry["stored_key"] == f"tenants/{lily.tenant.id}/photos/{with_photo.id}-0.jpg"
    assert lily.container.photo_store().get(entry["stored_key"]) == JPEG
    assert attachments.gets == [_REDIRECT + "abc/house.jpg", _BLOB + "abc/house.jpg"]
    assert lily.queue_stats() == EMPTY


def test_the_image_and_zip_in_one_message_quote_at_once(
    lily: Lily, chatwoot: ChatwootStandIn, attachments: Attachments
) -> None:
    photo_url = attachments.add("def/drive.png", "image/png", b"\x89PNG the driveway")
    post(lily, message_created("2 story house, 75201", attachments=[image(photo_url)]))
    settle(lily)
    # Two story ×1.25: $312.50 → $315, $562.50 → $565.
    [quote] = posted(chatwoot)
    assert RANGE.findall(quote) == ["$315–$565"]
    assert lily.twilio.messages == []


def test_outgoing_messages_are_ignored(
    lily: Lily, chatwoot: ChatwootStandIn, attachments: Attachments
) -> None:
    photo_url = attachments.add("ghi/house.jpg", "image/jpeg", JPEG)
    post(lily, message_created("house 75201", attachments=[image(photo_url)]))
    settle(lily)
    [quote] = posted(chatwoot)
    before = lily.count_rows("messages")

    # Chatwoot reports Lily's own reply, and an agent's, as outgoing messages.
    for content in (quote, "Hi Pat, Sam here: we can come Tuesday. 75204?"):
        echo = message_created(content, message_type="outgoing")
        response = post(lily, echo)
        assert (response.status_code, response.json()["status"]) == (200, "ignored")
    settle(lily)

    assert lily.count_rows("messages") == before
    assert len(chatwoot.messages) == 1 and len(quotes(lily)) == 1
    assert lily.queue_stats() == EMPTY


def test_a_bad_signature_is_refused_and_nothing_is_stored(
    lily: Lily, chatwoot: ChatwootStandIn, attachments: Attachments
) -> None:
    photo_url = attachments.add("jkl/house.jpg", "image/jpeg", JPEG)
    payload = message_created("house 75201", attachments=[image(photo_url)])
    response = post(lily, payload, secret="not-the-secret")
    assert response.status_code == 403 and "error" in response.json()
    settle(lily)

    assert [lily.count_rows(t) for t in ("leads", "conversations", "messages", "quotes")] == [
        0, 0, 0, 0,
    ]  # fmt: skip
    assert lily.queue_stats() == EMPTY
    assert chatwoot.messages == [] and attachments.gets == []


def test_a_reply_waits_out_the_jitter(
    lily: Lily, chatwoot: ChatwootStandIn, attachments: Attachments
) -> None:
    photo_url = attachments.add("mno/house.jpg", "image/jpeg", JPEG)
    post(lily, message_created("house 75201", attachments=[image(photo_url)]))
    lily.run_worker_at(lily.clock.now())
    assert chatwoot.messages == []  # the photo is copied at once; the reply waits
    assert len(attachments.gets) == 2  # the data_url and the blob it redirects to
    settle(lily)
    assert len(chatwoot.messages) == 1
