"""Signed webhooks with odd input, one class at a time, on both backends (SQLite accepts
what PostgreSQL refuses, so only the second shows some of these): an identifier Lily cannot
keep, a time no booking can have, or a body no parser should walk is a 400 that names the
field; odd free text (NULs, lone surrogates, over-long names) is cleaned or clipped and the
event is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lily_core.domain.leads import Lead, Message
from lily_core.domain.records import Booking
from tests.e2e.conftest import BUSINESS_PHONE, CALLER, running_lily
from tests.e2e.signed_webhooks import ACCOUNT_ID, INBOX_ID, WebhookLily
from tests.standins.twilio import TwilioStandIn

OTHER = "+15125550177"


@pytest.fixture
def lily(
    backend: tuple[str, str | None], twilio: TwilioStandIn, tmp_path: Path
) -> Iterator[WebhookLily]:
    with running_lily(backend, twilio, tmp_path, make=WebhookLily) as lily:
        yield lily


def error_of(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]["message"]
    return message


# -- Cal.com --------------------------------------------------------------------------------


def booking(**changes: Any) -> bytes:
    payload = {
        "uid": "bk_odd_1",
        "title": "House wash estimate",
        "startTime": "2026-06-03T15:00:00Z",
        "endTime": "2026-06-03T16:00:00Z",
        "attendees": [{"name": "Pat Customer", "email": "pat@example.com", "phoneNumber": OTHER}],
        **changes,
    }
    return json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": payload}).encode()


def stored_booking(lily: WebhookLily, uid: str = "bk_odd_1") -> Booking:
    with lily.container.uow().across_tenants() as uow:
        found = uow.bookings.get_by_uid(lily.tenant.id, uid)
    assert found is not None
    return found


@pytest.mark.parametrize(
    "body",
    [
        b'{"triggerEvent": "BOOKING_CREATED", "payload": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"triggerEvent": "BOOKING_CREATED", "payload": {"uid": ' + b"9" * 5000 + b"}}",
        b'{"a": ' * 40 + b"1" + b"}" * 40,
    ],
    ids=["nested-1000-deep", "5000-digit-int", "nested-40-deep"],
)
def test_a_body_no_parser_should_walk_is_400(lily: WebhookLily, body: bytes) -> None:
    assert "body" in error_of(lily.post_calcom(body))
    assert lily.count_rows("bookings") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startTime", "9999-12-31T23:59:59Z"),
        ("startTime", "0001-01-01T00:00:00Z"),
        ("startTime", "0001-01-01T00:00:00+14:00"),  # converting it to UTC overflows
        ("endTime", "9999-12-31T23:59:59-14:00"),
        ("endTime", "9999-12-31T23:59:59Z"),  # the review request would be due after 9999
        ("startTime", "1969-12-31T23:59:59Z"),
    ],
)
def test_a_booking_time_outside_1970_to_2200_is_400_naming_it(
    lily: WebhookLily, field: str, value: str
) -> None:
    assert f"payload.{field}" in error_of(lily.post_calcom(booking(**{field: value})))
    assert lily.count_rows("bookings") == 0


@pytest.mark.parametrize("field", ["uid", "rescheduleUid"])
def test_a_uid_longer_than_lily_keeps_is_400_naming_it(lily: WebhookLily, field: str) -> None:
    assert f"payload.{field}" in error_of(lily.post_calcom(booking(**{field: "u" * 129})))


def test_odd_attendee_text_is_cleaned_and_clipped_and_the_booking_kept(
    lily: WebhookLily,
) -> None:
    attendee = {
        "name": "Pat\x00 Cust\ud800omer" + "r" * 300,
        "email": "İ" * 242 + "@example.com",  # 254 characters, but 496 lower-cased
        "phoneNumber": OTHER + "\x00",
    }
    body = booking(title="Wash\x00 \udfff" + "e" * 600, attendees=[attendee])

    response = lily.post_calcom(body)

    assert (response.status_code, response.json()) == (200, {"status": "created"})
    stored = stored_booking(lily)
    assert stored.attendee_name == ("Pat Cust\ufffdomer" + "r" * 300)[:200]
    assert stored.title.startswith("Wash \ufffdeee") and len(stored.title) == 500
    assert stored.attendee_phone == OTHER
    lead = lily.lead(OTHER)
    assert lead.email is None and lead.name == stored.attendee_name


# -- Chatwoot -------------------------------------------------------------------------------


def chatwoot_message(**changes: Any) -> dict[str, Any]:
    contact = {"id": 501, "name": "Pat Customer", "phone_number": OTHER, "type": "contact"}
    return {
        "event": "message_created",
        "id": 9001,
        "content": "2 story house",
        "message_type": "incoming",
        "private": False,
        "sender": contact,
        "inbox": {"id": INBOX_ID},
        "account": {"id": ACCOUNT_ID},
        "conversation": {"id": 77, "inbox_id": INBOX_ID},
        **changes,
    }


def chatwoot_body(**changes: Any) -> bytes:
    return json.dumps(chatwoot_message(**changes)).encode()


def messages_of(lily: WebhookLily, lead: Lead) -> list[Message]:
    with lily.container.uow().across_tenants() as uow:
        return list(uow.messages.list_for_lead(lily.tenant.id, lead.id, limit=50).items)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": 2**31}, "id"),
        ({"id": 0}, "id"),
        ({"conversation": {"id": 2**31, "inbox_id": INBOX_ID}}, "conversation.id"),
        ({"account": {"id": 10**40}}, "account.id"),
    ],
)
def test_an_id_that_is_no_chatwoot_id_is_400_naming_it(
    lily: WebhookLily, changes: dict[str, Any], field: str
) -> None:
    assert field in error_of(lily.post_chatwoot(chatwoot_body(**changes)))
    assert lily.count_rows("messages") == 0


@pytest.mark.parametrize(
    "body",
    [
        chatwoot_body(content=None)[:-1] + b', "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        chatwoot_body()[:-1] + b', "x": -' + b"9" * 4400 + b"}",
    ],
    ids=["nested-1000-deep", "4400-digit-int"],
)
def test_a_chatwoot_body_no_parser_should_walk_is_400(lily: WebhookLily, body: bytes) -> None:
    assert "body" in error_of(lily.post_chatwoot(body))


def test_odd_chatwoot_text_is_cleaned_and_clipped_and_the_message_kept(
    lily: WebhookLily,
) -> None:
    sender = {"name": "Pat\x00" + "n" * 400, "email": "e" * 250 + "@example.com",
              "phone_number": OTHER}  # fmt: skip
    body = chatwoot_body(content="Hi\x00 there \ud83d!", sender=sender)

    response = lily.post_chatwoot(body)

    assert response.status_code == 200 and response.json()["status"] != "ignored"
    lead = lily.lead(OTHER)
    assert lead.name == ("Pat" + "n" * 400)[:200] and lead.email is None
    [inbound] = [m for m in messages_of(lily, lead) if m.direction == "inbound"]
    assert inbound.body == "Hi there \ufffd!"


# -- Twilio ---------------------------------------------------------------------------------


def sms_form(**changes: str) -> dict[str, str]:
    form = {"MessageSid": "SM" + "a" * 32, "From": OTHER, "To": BUSINESS_PHONE,
            "Body": "2 story house", "NumMedia": "0"}  # fmt: skip
    return {**form, **changes}


@pytest.mark.parametrize(
    ("path", "form", "field"),
    [
        ("/webhooks/twilio/sms", sms_form(MessageSid="SM" + "a" * 63), "MessageSid"),
        ("/webhooks/twilio/sms", sms_form(NumMedia="9" * 5000), "NumMedia"),
        (
            "/webhooks/twilio/voice",
            {
                "CallSid": "CA" + "b" * 63,
                "From": CALLER,
                "To": BUSINESS_PHONE,
                "CallStatus": "in-progress",
                "DialCallStatus": "no-answer",
            },
            "CallSid",
        ),
        (
            "/webhooks/twilio/sms/status",
            {
                "MessageSid": "SM" + "c" * 32,
                "MessageStatus": "failed",
                "ErrorCode": "3" * 33,
                "From": BUSINESS_PHONE,
            },
            "ErrorCode",
        ),
        (
            "/webhooks/twilio/sms/status",
            {"MessageSid": "SM" + "c" * 63, "MessageStatus": "sent", "From": BUSINESS_PHONE},
            "MessageSid",
        ),
    ],
)
def test_a_twilio_identifier_longer_than_lily_keeps_is_400_naming_it(
    lily: WebhookLily, path: str, form: dict[str, str], field: str
) -> None:
    assert field in error_of(lily.post_twilio(path, form))
    assert lily.count_rows("messages") == lily.count_rows("calls") == 0


def test_nuls_and_undecodable_bytes_in_a_text_are_cleaned_and_the_text_kept(
    lily: WebhookLily,
) -> None:
    # "\ud800" goes out as the bytes ED A0 80, which are no UTF-8: they arrive as U+FFFD.
    form = sms_form(MessageSid="SM" + "d" * 32 + "\x00", Body="2 story\x00 house \ud800")

    response = lily.post_twilio("/webhooks/twilio/sms", form)

    assert response.status_code == 200, response.text
    [inbound] = [m for m in lily.messages(OTHER) if m.direction == "inbound"]
    assert inbound.provider_sid == "SM" + "d" * 32
    assert "\x00" not in inbound.body and inbound.body.startswith("2 story house \ufffd")


def test_a_nul_in_a_missed_calls_fields_is_cleaned(lily: WebhookLily) -> None:
    form = {"CallSid": "CA\x00" + "e" * 32, "From": CALLER + "\x00", "To": BUSINESS_PHONE,
            "CallStatus": "in-progress", "DialCallStatus": "no-answer\x00"}  # fmt: skip

    response = lily.post_twilio("/webhooks/twilio/voice", form)

    assert response.status_code == 200, response.text
    call = lily.call_record("CA" + "e" * 32)
    assert call is not None and call.missed and call.from_phone == CALLER
