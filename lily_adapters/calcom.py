"""Cal.com webhooks: signature check and parsing into lily_core's BookingWebhook.

Cal.com signs the raw request body: `X-Cal-Signature-256` is the lowercase hex HMAC-SHA256
of it under the webhook's secret. The payload (webhook version 2021-10-20) looks like
`{"triggerEvent": ..., "createdAt": ..., "payload": {...}}`; in the payload:

- `uid` is the booking uid; a reschedule creates a new booking whose `rescheduleUid` is the
  old one (`iCalUID` is kept, `iCalSequence` bumps).
- the attendee's phone is `attendees[].phoneNumber`, else the booking form's
  `responses.attendeePhoneNumber.value`, else the "attendee phone" location
  (`responses.location.value == {"value": "phone", "optionValue": "+1..."}`).
- `location` is a display string (an address for in-person locations, a URL or
  `integrations:...` for video ones); `responses.location.value.optionValue` holds the
  address typed by the attendee for `attendeeInPerson`.
- `metadata` carries the booking link's `metadata[...]` query parameters; BOOKING_CANCELLED
  payloads have no `metadata` at all (the booking must be found by uid).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from lily_core.domain.booking_events import (
    TITLE_MAX,
    UID_MAX,
    BookingTrigger,
    BookingWebhook,
    require_booking_time,
)
from lily_core.domain.leads import NAME_MAX, email_or_none
from lily_core.domain.phone import try_normalize_phone
from lily_core.domain.sanitize import load_json, require_id
from lily_core.errors import InvalidInput

__all__ = ["SIGNATURE_HEADER", "parse_booking_webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Cal-Signature-256"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# metadata[lead_id] is what Lily puts in its booking links; "lead" is accepted as well.
_LEAD_KEYS = ("lead_id", "leadId", "lead")
# Location kinds whose optionValue is the attendee's address.
_IN_PERSON_KINDS = frozenset({"attendeeInPerson", "inPerson"})


def sign(secret: str, body: bytes) -> str:
    """The X-Cal-Signature-256 value Cal.com sends for `body` (useful to simulators/tests)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True iff `header` is the hex HMAC-SHA256 of the raw `body` under `secret`. Compared in
    constant time; an empty secret or a missing header never verifies."""
    if not secret or not header:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header can hold.
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().lower().encode())


def parse_booking_webhook(body: bytes) -> BookingWebhook:
    """Read a Cal.com webhook body. Raises InvalidInput (with `field` naming the culprit) for
    anything that is not a webhook of the expected shape; a trigger Lily does not handle is
    returned as BookingTrigger.OTHER after only the envelope was checked. Strings are
    cleaned (load_json), free text is clipped to what Lily keeps, and an uid too long to
    keep or a time outside the years bookings can have is refused."""
    document = load_json(body)
    if not isinstance(document, dict):
        raise InvalidInput("body is not a JSON object", field="body")
    raw_trigger = document.get("triggerEvent")
    if not isinstance(raw_trigger, str) or not raw_trigger:
        raise InvalidInput("missing or not a string", field="triggerEvent")
    trigger = BookingTrigger.from_raw(raw_trigger)
    payload = document.get("payload")
    if trigger is BookingTrigger.OTHER:
        return _lenient_other(raw_trigger, payload if isinstance(payload, dict) else {})
    if not isinstance(payload, dict):
        raise InvalidInput("missing or not an object", field="payload")

    uid = _uid(_required_str(payload, "uid"), "uid")
    start = _required_time(payload, "startTime")
    end = _required_time(payload, "endTime")
    if end < start:
        raise InvalidInput("ends before startTime", field="payload.endTime")
    reschedule_uid = _optional_str(payload, "rescheduleUid")
    if reschedule_uid is not None:
        reschedule_uid = _uid(reschedule_uid, "rescheduleUid")
    if trigger is BookingTrigger.BOOKING_RESCHEDULED and reschedule_uid is None:
        raise InvalidInput("missing on BOOKING_RESCHEDULED", field="payload.rescheduleUid")

    attendee = _first_attendee(payload)
    responses = _dict(payload.get("responses"))
    location_kind, location_option = _location_response(responses)
    organizer = _dict(payload.get("organizer"))
    return BookingWebhook(
        trigger=trigger,
        raw_trigger=raw_trigger,
        uid=uid,
        reschedule_uid=reschedule_uid,
        title=(_optional_str(payload, "title") or "")[:TITLE_MAX],
        start=start,
        end=end,
        address=_address(payload, location_kind, location_option),
        attendee_name=_clip(
            _optional_str(attendee, "name") or _response_value(responses, "name"), NAME_MAX
        ),
        # An address longer than any can be is no address: the booking stands without it.
        attendee_email=email_or_none(
            _optional_str(attendee, "email") or _response_value(responses, "email")
        ),
        attendee_phone=_attendee_phone(attendee, responses, location_kind, location_option),
        lead_id=_lead_id(payload.get("metadata")),
        organizer_timezone=_optional_str(organizer, "timeZone"),
        cancellation_reason=_optional_str(payload, "cancellationReason"),
        notes=_optional_str(payload, "additionalNotes"),
    )


def _lenient_other(raw_trigger: str, payload: dict[str, Any]) -> BookingWebhook:
    uid = payload.get("uid")
    return BookingWebhook(
        trigger=BookingTrigger.OTHER,
        raw_trigger=raw_trigger[:100],  # only logged
        uid=uid if isinstance(uid, str) else "",
        start=_EPOCH,
        end=_EPOCH,
    )


def _uid(uid: str, key: str) -> str:
    return require_id(uid, field=f"payload.{key}", limit=UID_MAX)


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _required_str(payload: dict[str, Any], key: str) -> str:
    value = _optional_str(payload, key)
    if value is None:
        raise InvalidInput("missing or not a string", field=f"payload.{key}")
    return value


def _required_time(payload: dict[str, Any], key: str) -> datetime:
    raw = _required_str(payload, key)
    try:
        # fromisoformat reads "Z" from Python 3.11 on.
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            f"{raw[:40]!r} is not an ISO 8601 time", field=f"payload.{key}"
        ) from None
    return require_booking_time(parsed, field=f"payload.{key}")


def _first_attendee(payload: dict[str, Any]) -> dict[str, Any]:
    attendees = payload.get("attendees")
    if isinstance(attendees, list) and attendees:
        return _dict(attendees[0])
    return {}


def _response_value(responses: dict[str, Any], key: str) -> str | None:
    """A booking-form answer: `responses[key]` is {"label", "value"} (or a bare value)."""
    entry = responses.get(key)
    value = entry.get("value") if isinstance(entry, dict) else entry
    return value.strip() if isinstance(value, str) and value.strip() else None


def _location_response(responses: dict[str, Any]) -> tuple[str | None, str | None]:
    entry = _dict(responses.get("location"))
    value = entry.get("value")
    if isinstance(value, dict):
        kind, option = value.get("value"), value.get("optionValue")
        return (
            kind if isinstance(kind, str) else None,
            option.strip() if isinstance(option, str) and option.strip() else None,
        )
    return None, None


def _address(
    payload: dict[str, Any], location_kind: str | None, location_option: str | None
) -> str | None:
    if location_kind in _IN_PERSON_KINDS and location_option:
        return location_option
    location = _optional_str(payload, "location")
    if location is None or location_kind == "phone":
        return None
    if location.startswith(("integrations:", "http://", "https://")):
        return None  # a video meeting: no address to drive to
    return location


def _attendee_phone(
    attendee: dict[str, Any],
    responses: dict[str, Any],
    location_kind: str | None,
    location_option: str | None,
) -> str | None:
    candidates = [
        _optional_str(attendee, "phoneNumber"),
        _response_value(responses, "attendeePhoneNumber"),
        location_option if location_kind == "phone" else None,
    ]
    for candidate in candidates:
        phone = try_normalize_phone(candidate)
        if phone:
            return phone
    return None


def _lead_id(metadata: object) -> str | None:
    meta = _dict(metadata)
    for key in _LEAD_KEYS:
        value = meta.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
