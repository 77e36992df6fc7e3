"""Cal.com webhook signature checks and parsing, against Cal.com-shaped signed samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lily_adapters.calcom import SIGNATURE_HEADER, parse_booking_webhook, sign, verify_signature
from lily_core.domain.booking_events import BookingTrigger, calendar_event_id
from lily_core.errors import InvalidInput
from tests.fixtures import webhook_samples

SAMPLES: dict[str, Any] = webhook_samples()["calcom"]
SECRET = "cal_webhook_secret_test"


def sample(trigger: str) -> tuple[bytes, str]:
    entry = SAMPLES[trigger]
    return entry["raw_body"].encode(), entry["headers"][SIGNATURE_HEADER]


def body_of(payload: dict[str, Any], trigger: str = "BOOKING_CREATED") -> bytes:
    return json.dumps({"triggerEvent": trigger, "payload": payload}).encode()


BASE = {"uid": "bk_1", "startTime": "2026-12-01T16:00:00Z", "endTime": "2026-12-01T17:00:00Z"}


# -- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED"])
def test_the_samples_signatures_verify(trigger: str) -> None:
    body, signature = sample(trigger)

    assert verify_signature(SECRET, body, signature)


def test_a_tampered_body_or_another_secret_does_not_verify() -> None:
    body, signature = sample("BOOKING_CREATED")

    assert not verify_signature(SECRET, body.replace(b"Pat", b"Pam"), signature)
    assert not verify_signature("another-secret", body, signature)


@pytest.mark.parametrize("header", [None, "", "sha256=abc", "zz" * 32])
def test_missing_or_malformed_signatures_do_not_verify(header: str | None) -> None:
    assert not verify_signature(SECRET, b"{}", header)


def test_an_empty_secret_never_verifies() -> None:
    assert not verify_signature("", b"{}", sign("", b"{}"))


def test_a_non_ascii_signature_header_does_not_verify() -> None:
    # compare_digest raises TypeError on str with non-ASCII characters: never a 500
    assert not verify_signature(SECRET, b"{}", "é" * 64)


def test_sign_makes_what_verify_accepts_and_uppercase_hex_is_fine() -> None:
    assert verify_signature("s3cret", b"body", sign("s3cret", b"body").upper())


# -- parsing the samples ------------------------------------------------------------------


def test_booking_created_sample() -> None:
    hook = parse_booking_webhook(sample("BOOKING_CREATED")[0])

    assert hook.trigger is BookingTrigger.BOOKING_CREATED
    assert hook.uid == "bk_7f3c9a"
    assert hook.reschedule_uid is None
    assert hook.title == "House wash estimate between Sam Owner and Pat Customer"
    assert hook.start == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert hook.end == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert hook.address == "123 Main St, Austin TX"
    assert (hook.attendee_name, hook.attendee_email, hook.attendee_phone) == (
        "Pat Customer",
        "pat@example.com",
        "+15125550100",
    )
    assert hook.lead_id == "ld_42"  # the sample's booking link used metadata[lead]
    assert hook.organizer_timezone == "America/Chicago"
    assert hook.notes == "Two-story house, back deck too"
    assert hook.idempotency_key == "BOOKING_CREATED:bk_7f3c9a"


def test_booking_rescheduled_sample_names_the_old_booking() -> None:
    hook = parse_booking_webhook(sample("BOOKING_RESCHEDULED")[0])

    assert hook.trigger is BookingTrigger.BOOKING_RESCHEDULED
    assert (hook.uid, hook.reschedule_uid) == ("bk_9a1d2e", "bk_7f3c9a")
    assert hook.start == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


def test_booking_cancelled_sample_has_a_reason_and_no_lead_id() -> None:
    hook = parse_booking_webhook(sample("BOOKING_CANCELLED")[0])

    assert hook.trigger is BookingTrigger.BOOKING_CANCELLED
    assert hook.uid == "bk_7f3c9a"
    assert hook.cancellation_reason == "Found another company"
    assert hook.lead_id is None
    assert hook.attendee_phone == "+15125550100"


# -- other shapes --------------------------------------------------------------------------


@pytest.mark.parametrize("trigger", ["PING", "MEETING_ENDED", "BOOKING_REQUESTED"])
def test_other_triggers_are_recognised_without_a_booking_payload(trigger: str) -> None:
    hook = parse_booking_webhook(json.dumps({"triggerEvent": trigger, "payload": {}}).encode())

    assert hook.trigger is BookingTrigger.OTHER
    assert hook.raw_trigger == trigger


def test_metadata_lead_id_wins_over_lead() -> None:
    hook = parse_booking_webhook(body_of({**BASE, "metadata": {"lead_id": "a", "lead": "b"}}))

    assert hook.lead_id == "a"


def test_phone_falls_back_to_the_form_responses() -> None:
    payload = {
        **BASE,
        "attendees": [{"name": "Pat", "email": "pat@example.com"}],
        "responses": {"attendeePhoneNumber": {"label": "phone", "value": "(512) 555-0100"}},
    }

    assert parse_booking_webhook(body_of(payload)).attendee_phone == "+15125550100"


def test_phone_location_gives_the_phone_and_no_address() -> None:
    payload = {
        **BASE,
        "location": "+15125550100",
        "responses": {"location": {"value": {"value": "phone", "optionValue": "+15125550100"}}},
    }
    hook = parse_booking_webhook(body_of(payload))

    assert (hook.attendee_phone, hook.address) == ("+15125550100", None)


def test_in_person_address_comes_from_the_location_answer() -> None:
    payload = {
        **BASE,
        "location": "integrations:daily",
        "responses": {
            "location": {"value": {"value": "attendeeInPerson", "optionValue": "9 Elm St"}}
        },
    }

    assert parse_booking_webhook(body_of(payload)).address == "9 Elm St"


def test_video_locations_are_not_addresses() -> None:
    payload = {**BASE, "location": "https://cal.com/video/abc"}

    assert parse_booking_webhook(body_of(payload)).address is None


def test_an_invalid_phone_is_dropped_not_fatal() -> None:
    payload = {**BASE, "attendees": [{"name": "Pat", "phoneNumber": "not a phone"}]}
    hook = parse_booking_webhook(body_of(payload))

    assert (hook.attendee_name, hook.attendee_phone) == ("Pat", None)


def test_offsets_are_converted_to_utc() -> None:
    payload = {**BASE, "startTime": "2026-12-01T10:00:00-06:00"}

    assert parse_booking_webhook(body_of(payload)).start == datetime(2026, 12, 1, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (b"{}", "triggerEvent"),
        (json.dumps({"triggerEvent": 7}).encode(), "triggerEvent"),
        (json.dumps({"triggerEvent": "BOOKING_CREATED"}).encode(), "payload"),
        (json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": []}).encode(), "payload"),
        (body_of({**BASE, "uid": None}), "payload.uid"),
        (body_of({k: v for k, v in BASE.items() if k != "uid"}), "payload.uid"),
        (body_of({k: v for k, v in BASE.items() if k != "startTime"}), "payload.startTime"),
        (body_of({**BASE, "startTime": "tomorrow"}), "payload.startTime"),
        (body_of({**BASE, "startTime": "2026-12-01T16:00:00"}), "payload.startTime"),
        (body_of({**BASE, "endTime": "2026-11-30T16:00:00Z"}), "payload.endTime"),
        (body_of(BASE, "BOOKING_RESCHEDULED"), "payload.rescheduleUid"),
        (body_of({**BASE, "uid": "u" * 129}), "payload.uid"),
        (body_of({**BASE, "rescheduleUid": "u" * 129}), "payload.rescheduleUid"),
        (b'{"triggerEvent": "BOOKING_CREATED", "payload": ' + b"[" * 1000 + b"]" * 1000, "body"),
        (b'{"triggerEvent": "BOOKING_CREATED", "payload": {"uid": ' + b"9" * 5000, "body"),
    ],
)
def test_wrong_shapes_are_invalid_input_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_booking_webhook(body)

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("startTime", "9999-12-31T23:59:59Z"),
        ("startTime", "0001-01-01T00:00:00Z"),
        ("startTime", "0001-01-01T00:00:00+14:00"),  # astimezone(UTC) would overflow
        ("endTime", "9999-12-31T23:59:59-14:00"),
        ("endTime", "2200-01-01T00:00:01Z"),
        ("startTime", "1969-12-31T23:59:59Z"),
    ],
)
def test_times_outside_1970_to_2200_are_invalid_input(key: str, raw: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_booking_webhook(body_of({**BASE, key: raw}))

    assert raised.value.field == f"payload.{key}"


def test_nuls_and_lone_surrogates_are_cleaned_out_of_every_string() -> None:
    attendee = {"name": "Pat\x00 Customer", "email": "pat@example.com\x00",
                "phoneNumber": "+15125550100\x00"}  # fmt: skip
    payload = {**BASE, "uid": "bk\x00_1", "title": "Wash \ud800", "attendees": [attendee],
               "metadata": {"lead_id": "lead\x00_1"}}  # fmt: skip

    hook = parse_booking_webhook(body_of(payload))

    assert (hook.uid, hook.title, hook.lead_id) == ("bk_1", "Wash \ufffd", "lead_1")
    assert (hook.attendee_name, hook.attendee_email) == ("Pat Customer", "pat@example.com")
    assert hook.attendee_phone == "+15125550100"


def test_over_long_free_text_is_clipped_and_an_impossible_email_dropped() -> None:
    attendee = {"name": "n" * 300, "email": "e" * 250 + "@example.com"}

    hook = parse_booking_webhook(body_of({**BASE, "title": "t" * 600, "attendees": [attendee]}))

    assert (len(hook.title), hook.attendee_name, hook.attendee_email) == (500, "n" * 200, None)


# -- calendar event ids --------------------------------------------------------------------


@pytest.mark.parametrize("uid", ["bk_7f3c9a", "x", "ü" * 300, "a/b@c#d"])
def test_calendar_event_ids_are_deterministic_base32hex(uid: str) -> None:
    event_id = calendar_event_id(uid)

    assert event_id == calendar_event_id(uid)
    assert 5 <= len(event_id) <= 1024
    assert set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")


def test_distinct_uids_get_distinct_event_ids() -> None:
    assert calendar_event_id("bk_7f3c9a") != calendar_event_id("bk_9a1d2e")
