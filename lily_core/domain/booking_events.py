"""What a Cal.com booking webhook tells Lily, independent of Cal.com's JSON shape, and the
Google Calendar event id a booking maps to."""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import attrs

from lily_core.errors import InvalidInput

# The widths of the booking columns a webhook fills (Cal.com's uids are about 22 characters).
UID_MAX = 128
TITLE_MAX = 500
# A booking outside these years is a typo or an attack, never an appointment; refusing it
# also keeps every date computed from it (the review request's) far from datetime's limits.
EARLIEST_BOOKING = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_BOOKING = datetime(2200, 1, 1, tzinfo=UTC)


class BookingTrigger(enum.StrEnum):
    """The Cal.com triggers Lily acts on; every other trigger is OTHER (acknowledged, ignored)."""

    BOOKING_CREATED = "BOOKING_CREATED"
    BOOKING_RESCHEDULED = "BOOKING_RESCHEDULED"
    BOOKING_CANCELLED = "BOOKING_CANCELLED"
    OTHER = "OTHER"

    @classmethod
    def from_raw(cls, raw: str) -> BookingTrigger:
        """The trigger named `raw` (Cal.com's `triggerEvent`), or OTHER."""
        try:
            trigger = cls(raw)
        except ValueError:
            return cls.OTHER
        return trigger


@attrs.frozen(kw_only=True)
class BookingWebhook:
    """One Cal.com booking webhook.

    `uid` is the booking's Cal.com uid; on BOOKING_RESCHEDULED Cal.com creates a new booking
    and `reschedule_uid` is the uid of the booking it replaces. `start`/`end` are aware UTC.
    `lead_id` comes from the booking link's `metadata[lead_id]` (None if absent); the
    attendee fields identify the lead otherwise (`attendee_phone` is E.164 or None).
    For trigger OTHER only `trigger` and `raw_trigger` are meaningful: the rest is whatever
    could be read, with `uid` "" and `start`/`end` at the Unix epoch when absent.
    """

    trigger: BookingTrigger
    raw_trigger: str
    uid: str
    reschedule_uid: str | None = None
    title: str = ""
    start: datetime
    end: datetime
    address: str | None = None
    attendee_name: str | None = None
    attendee_email: str | None = None
    attendee_phone: str | None = None
    lead_id: str | None = None
    organizer_timezone: str | None = None
    cancellation_reason: str | None = None
    notes: str | None = None

    @property
    def idempotency_key(self) -> str:
        """What makes a delivery a duplicate: the same trigger for the same booking uid."""
        return f"{self.raw_trigger}:{self.uid}"


def require_booking_time(moment: datetime, *, field: str) -> datetime:
    """`moment` (aware) in UTC; InvalidInput naming `field` unless it lies between
    EARLIEST_BOOKING and LATEST_BOOKING. Compared before converting: converting a time at
    the edge of datetime's range can overflow."""
    if moment.tzinfo is None:
        raise InvalidInput("has no UTC offset", field=field)
    if not EARLIEST_BOOKING <= moment <= LATEST_BOOKING:
        raise InvalidInput(
            f"is not between {EARLIEST_BOOKING.year} and {LATEST_BOOKING.year}", field=field
        )
    return moment.astimezone(UTC)


def calendar_event_id(booking_uid: str) -> str:
    """A Google Calendar event id for the booking: deterministic (a retried insert hits the
    same id and cannot double-book) and valid for Google (base32hex: a-v and 0-9, 5-1024
    characters). 52 characters of SHA-256, so distinct uids do not collide in practice."""
    digest = hashlib.sha256(b"lily-booking:" + booking_uid.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()


def booking_description(
    *,
    lead_name: str | None,
    lead_phone: str | None,
    address: str | None = None,
    quote_url: str | None = None,
    notes: str | None = None,
    extra_lines: Sequence[str] = (),
) -> str:
    """The text of a booking's calendar event: who, where, what they said and the quote link;
    lines with nothing to say are left out."""
    lines = [
        f"Customer: {lead_name}" if lead_name else None,
        f"Phone: {lead_phone}" if lead_phone else None,
        f"Address: {address}" if address else None,
        f"Notes: {notes}" if notes else None,
        f"Quote: {quote_url}" if quote_url else None,
        *extra_lines,
    ]
    return "\n".join(line for line in lines if line)
