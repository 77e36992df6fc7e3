"""Chatwoot webhook authentication and parsing, checked against the signed contract sample."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from lily_adapters.chatwoot import (
    UnsupportedChatwootEvent,
    parse_chatwoot_webhook,
    verify_chatwoot_request,
)
from lily_core.domain.chatwoot_events import ChatwootAttachment
from lily_core.errors import InvalidInput

# The signed Chatwoot sample of tests/fixtures/webhook_samples.json (chatwoot /
# message_created), copied verbatim so the tests run on any checkout.
SAMPLE_SECRET = "chatwoot_webhook_secret_test"
SAMPLE_TIMESTAMP = "1795046400"
SAMPLE_SIGNATURE = "sha256=47fa186854308536e187854a093640eb5b1868668b82bbea888a66541e9da28b"
SAMPLE_BODY = (
    b'{"event":"message_created","id":9001,"content":"Can you also clean the gutters?","cr'
    b'eated_at":"2026-11-24T22:00:00.000Z","message_type":"incoming","content_type":"text"'
    b',"content_attributes":{},"additional_attributes":{},"source_id":null,"private":false'
    b',"sender":{"id":501,"name":"Pat Customer","email":"pat@example.com","phone_number":"'
    b'+15125550100","identifier":null,"thumbnail":"","additional_attributes":{},"custom_at'
    b'tributes":{},"account":{"id":3,"name":"Sparkle Wash"},"avatar":"","type":"contact"},'
    b'"inbox":{"id":9,"name":"Website"},"account":{"id":3,"name":"Sparkle Wash"},"conversa'
    b'tion":{"id":77,"inbox_id":9,"status":"open","channel":"Channel::WebWidget","can_repl'
    b'y":true,"additional_attributes":{},"custom_attributes":{},"contact_inbox":{"id":600,'
    b'"contact_id":501,"inbox_id":9,"source_id":"c3f1...","hmac_verified":false},"meta":{"'
    b'sender":{"id":501,"name":"Pat Customer","type":"contact"},"assignee":null},"messages'
    b'":[],"labels":[],"unread_count":1,"timestamp":1795046400,"account_id":3},"attachment'
    b's":[{"id":333,"message_id":9001,"file_type":"image","account_id":3,"extension":null,'
    b'"data_url":"https://chat.example.com/rails/active_storage/blobs/redirect/xyz/gutter.'
    b'jpg","thumb_url":"https://chat.example.com/rails/active_storage/representations/redi'
    b'rect/xyz/gutter.jpg","file_size":183245,"width":1280,"height":960}]}'
)


def _sample() -> tuple[str, bytes, str, str]:
    """(secret, raw body, signature header, timestamp header) of the signed sample."""
    return SAMPLE_SECRET, SAMPLE_BODY, SAMPLE_SIGNATURE, SAMPLE_TIMESTAMP


def _sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event": "message_created",
        "id": 9001,
        "content": "Can you also clean the gutters? 75201",
        "message_type": "incoming",
        "private": False,
        "sender": {
            "id": 501,
            "name": "Pat Customer",
            "email": "pat@example.com",
            "phone_number": "+15125550100",
            "type": "contact",
        },
        "inbox": {"id": 9, "name": "Website"},
        "account": {"id": 3, "name": "Sparkle Wash"},
        "conversation": {"id": 77, "inbox_id": 9, "meta": {"sender": {"id": 501}}},
        "attachments": [
            {"id": 333, "file_type": "image", "data_url": "https://chat.example.com/a.jpg"}
        ],
    }
    payload.update(overrides)
    return payload


def _body(**overrides: Any) -> bytes:
    return json.dumps(_payload(**overrides)).encode()


# -- authentication -----------------------------------------------------------------------------


def test_the_signed_sample_verifies() -> None:
    secret, body, signature, timestamp = _sample()
    assert verify_chatwoot_request(secret, body, signature, timestamp, None, now=int(timestamp))


def test_a_tampered_body_fails() -> None:
    secret, body, signature, timestamp = _sample()
    tampered = body.replace(b"gutters", b"roof")
    assert not verify_chatwoot_request(
        secret, tampered, signature, timestamp, None, now=int(timestamp)
    )


def test_another_secret_fails() -> None:
    _, body, signature, timestamp = _sample()
    assert not verify_chatwoot_request(
        "not-the-secret", body, signature, timestamp, None, now=int(timestamp)
    )


def test_a_changed_timestamp_fails() -> None:
    secret, body, signature, timestamp = _sample()
    later = str(int(timestamp) + 1)
    assert not verify_chatwoot_request(secret, body, signature, later, None, now=int(timestamp))


@pytest.mark.parametrize("age", [301, -301, 86400])
def test_a_stale_or_future_signature_fails(age: int) -> None:
    secret, body, signature, timestamp = _sample()
    assert not verify_chatwoot_request(
        secret, body, signature, timestamp, None, now=int(timestamp) + age
    )


def test_a_signature_within_five_minutes_passes() -> None:
    secret, body, signature, timestamp = _sample()
    assert verify_chatwoot_request(
        secret, body, signature, timestamp, None, now=int(timestamp) + 299
    )


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        ("47fa186854308536e187854a093640eb5b1868668b82bbea888a66541e9da28b", "1795046400"),
        ("sha1=47fa186854308536e187854a093640eb5b1868668b82bbea888a66541e9da28b", "1795046400"),
        ("sha256=", "1795046400"),
        ("sha256=47fa186854308536e187854a093640eb5b1868668b82bbea888a66541e9da28b", None),
        ("sha256=47fa186854308536e187854a093640eb5b1868668b82bbea888a66541e9da28b", "soon"),
    ],
)
def test_malformed_signature_headers_fail(signature: str, timestamp: str | None) -> None:
    secret, body, _, _ = _sample()
    assert not verify_chatwoot_request(secret, body, signature, timestamp, None, now=1795046400)


def test_a_signature_header_is_not_rescued_by_a_good_query_token() -> None:
    secret, body, _, timestamp = _sample()
    assert not verify_chatwoot_request(
        secret, body, "sha256=" + "0" * 64, timestamp, secret, now=int(timestamp)
    )


def test_without_a_signature_the_query_token_must_be_the_secret() -> None:
    secret, body, _, _ = _sample()
    assert verify_chatwoot_request(secret, body, None, None, secret)
    assert not verify_chatwoot_request(secret, body, None, None, secret + "x")
    assert not verify_chatwoot_request(secret, body, None, None, "")
    assert not verify_chatwoot_request(secret, body, None, None, None)


def test_a_tenant_without_a_secret_never_verifies() -> None:
    _, body, _, _ = _sample()
    assert not verify_chatwoot_request("", body, None, None, "")
    assert not verify_chatwoot_request(None, body, None, None, None)


# -- parsing ------------------------------------------------------------------------------------


def test_the_sample_parses_as_an_incoming_message_with_a_photo() -> None:
    _, body, _, _ = _sample()
    inbound = parse_chatwoot_webhook(body)
    assert inbound.event == "message_created"
    assert inbound.is_incoming
    assert inbound.message_type == "incoming"
    assert (inbound.account_id, inbound.inbox_id, inbound.conversation_id) == (3, 9, 77)
    assert inbound.message_id == 9001
    assert inbound.content == "Can you also clean the gutters?"
    assert inbound.sender_name == "Pat Customer"
    assert inbound.sender_phone == "+15125550100"
    assert inbound.sender_email == "pat@example.com"
    assert inbound.attachments == (
        ChatwootAttachment(
            "https://chat.example.com/rails/active_storage/blobs/redirect/xyz/gutter.jpg", "image"
        ),
    )
    assert inbound.photo_urls == (inbound.attachments[0].url,)
    assert inbound.dedupe_key == "chatwoot:3:9001"


def test_an_outgoing_message_is_not_incoming() -> None:
    inbound = parse_chatwoot_webhook(
        _body(message_type="outgoing", sender={"id": 1, "name": "Agent", "type": "user"})
    )
    assert not inbound.is_incoming
    assert inbound.sender_phone is None


@pytest.mark.parametrize(("raw", "expected"), [(0, "incoming"), (1, "outgoing"), (2, "activity")])
def test_integer_message_types_of_older_chatwoot_versions(raw: int, expected: str) -> None:
    inbound = parse_chatwoot_webhook(_body(message_type=raw))
    assert inbound.message_type == expected
    assert inbound.is_incoming == (expected == "incoming")


def test_a_private_note_is_not_incoming() -> None:
    assert not parse_chatwoot_webhook(_body(private=True)).is_incoming


def test_only_image_attachments_are_photos() -> None:
    inbound = parse_chatwoot_webhook(
        _body(
            attachments=[
                {"file_type": "image", "data_url": "https://c.example/1.jpg"},
                {"file_type": "audio", "data_url": "https://c.example/v.ogg"},
                {"file_type": "location", "coordinates_lat": 1.0},
            ]
        )
    )
    assert [a.file_type for a in inbound.attachments] == ["image", "audio"]
    assert inbound.photo_urls == ("https://c.example/1.jpg",)


def test_an_attachment_only_message_has_empty_content() -> None:
    inbound = parse_chatwoot_webhook(_body(content=None))
    assert inbound.content == ""
    assert len(inbound.photo_urls) == 1


def test_a_sender_without_a_valid_phone_has_none() -> None:
    sender = {"name": "Web visitor", "phone_number": "not a phone", "email": None}
    inbound = parse_chatwoot_webhook(_body(sender=sender))
    assert inbound.sender_phone is None
    assert inbound.sender_email is None


def test_the_inbox_id_falls_back_to_the_conversation() -> None:
    payload = _payload()
    del payload["inbox"]
    assert parse_chatwoot_webhook(json.dumps(payload).encode()).inbox_id == 9


def test_other_events_are_unsupported_not_malformed() -> None:
    with pytest.raises(UnsupportedChatwootEvent):
        parse_chatwoot_webhook(_body(event="conversation_status_changed"))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        json.dumps({"id": 1}).encode(),
        _body(message_type="sideways"),
        _body(message_type=None),
        _body(conversation=None),
        _body(conversation={"id": "77"}),
        _body(account={}),
        _body(id=True),
        _body(attachments={"file_type": "image"}),
        _body(attachments=["https://c.example/1.jpg"]),
        _body(id=2**31),  # Chatwoot's ids, and Lily's column for them, are int4
        _body(id=0),
        _body(conversation={"id": -1}),
        _body(account={"id": 10**40}),
        _body()[:-1] + b', "deep": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        _body()[:-1] + b', "huge": ' + b"9" * 5000 + b"}",
    ],
)
def test_wrong_shapes_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_chatwoot_webhook(body)
    assert not isinstance(caught.value, UnsupportedChatwootEvent)


def test_an_id_out_of_range_names_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_chatwoot_webhook(_body(conversation={"id": 2**31, "inbox_id": 9}))
    assert caught.value.field == "conversation.id"


def test_nuls_and_lone_surrogates_are_cleaned_out_of_every_string() -> None:
    sender = {
        "name": "Pat\x00 Customer",
        "email": "pat@example.com",
        "phone_number": "+1512555\x000100",
    }
    attachment = {"file_type": "image\x00", "data_url": "https://c.example/a\x00.jpg"}

    inbound = parse_chatwoot_webhook(
        _body(content="gutters\x00 \ud800", sender=sender, attachments=[attachment])
    )

    assert inbound.content == "gutters \ufffd"
    assert (inbound.sender_name, inbound.sender_phone) == ("Pat Customer", "+15125550100")
    assert inbound.photo_urls == ("https://c.example/a.jpg",)


def test_an_over_long_name_is_clipped_and_an_impossible_email_dropped() -> None:
    sender = {"name": "n" * 300, "email": "e" * 250 + "@example.com", "phone_number": None}

    inbound = parse_chatwoot_webhook(_body(sender=sender))

    assert (inbound.sender_name, inbound.sender_email) == ("n" * 200, None)


def test_a_non_ascii_signature_header_does_not_verify() -> None:
    secret, body, _, timestamp = _sample()
    # compare_digest raises TypeError on str with non-ASCII characters: never a 500
    signature = "sha256=" + "é" * 64
    assert not verify_chatwoot_request(secret, body, signature, timestamp, None, now=int(timestamp))
