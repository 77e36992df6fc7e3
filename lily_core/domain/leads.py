from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from lily_core.domain.ids import new_id

# The widths of the columns that keep what providers send about leads, messages and calls:
# identifiers longer than these are refused, free text is clipped (lily_core.domain.sanitize).
NAME_MAX = 200
EMAIL_MAX = 254  # the longest address RFC 5321 allows
PROVIDER_SID_MAX = 64  # Twilio's MessageSid/CallSid are 34 characters
ERROR_CODE_MAX = 32


class LeadStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUOTED = "quoted"
    BOOKED = "booked"
    LOST = "lost"


class Channel(enum.StrEnum):
    SMS = "sms"
    CHATWOOT = "chatwoot"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(enum.StrEnum):
    RECEIVED = "received"  # inbound, stored
    QUEUED = "queued"  # outbound, committed, waiting for the worker
    SENDING = "sending"  # handed to the provider; a crash here is not retried (no duplicates)
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SANDBOX = "sandbox"  # sandbox mode: stored and logged, never sent
    SUPPRESSED = "suppressed"  # opted out: never to be sent
    HELD = "held"  # automations paused or plan limit: kept, visibly, not sent

    @property
    def is_final(self) -> bool:
        return self not in (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.HELD)


class MessageKind(enum.StrEnum):
    INBOUND = "inbound"
    MISSED_CALL = "missed_call"
    PROMPT = "prompt"
    QUOTE = "quote"
    DECLINE = "decline"
    HELP = "help"
    CONFIRMATION = "confirmation"
    REVIEW_REQUEST = "review_request"
    MANUAL = "manual"


def email_or_none(raw: str | None) -> str | None:
    """`raw` stripped, or None if that is empty or longer than any address can be."""
    email = raw.strip() if raw else None
    return email if email and len(email) <= EMAIL_MAX else None


@attrs.define(slots=False, eq=False, kw_only=True)
class Lead:
    """A customer of a tenant, known by phone number (E.164), unique within the tenant."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    phone: str | None = None
    name: str | None = None
    email: str | None = None
    zip: str | None = None
    status: LeadStatus = LeadStatus.NEW
    opted_out: bool = False
    opted_out_at: datetime | None = None
    last_review_request_at: datetime | None = None
    created_at: datetime
    first_contact_at: datetime | None = None  # first outbound message, for speed-to-lead
    automations_paused: bool = False  # the owner took over: Lily sends nothing automated
    last_activity_at: datetime | None = None  # the newest message in or out
    last_inbound_at: datetime | None = None  # the newest message from the lead
    last_read_at: datetime | None = None  # when the owner last read the conversation


@attrs.define(slots=False, eq=False, kw_only=True)
class Conversation:
    """The running exchange with a lead, and what the lead has sent towards a quote."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    lead_id: str
    channel: Channel = Channel.SMS
    chatwoot_conversation_id: int | None = None
    zip: str | None = None
    photo_count: int = 0
    service_text: str = ""
    quoted_photo_count: int | None = None  # photo_count when the last quote was made
    quoted_zip: str | None = None
    last_prompt: str | None = None  # what we last asked for: "photos", "zip" or "both"
    last_customer_activity_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


@attrs.frozen
class MediaItem:
    url: str
    content_type: str
    stored_key: str | None = None


@attrs.define(slots=False, eq=False, kw_only=True)
class Message:
    """One SMS/MMS or Chatwoot message, in or out. Outbound messages are committed as
    QUEUED with the state change that caused them; the worker sends them."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    lead_id: str
    conversation_id: str | None = None
    direction: Direction
    kind: MessageKind
    body: str
    media: list[dict[str, Any]] = attrs.field(factory=list)
    status: MessageStatus
    business_initiated: bool = False
    provider_sid: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    send_after: datetime | None = None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None


@attrs.define(slots=False, eq=False, kw_only=True)
class Call:
    """A voice call to a tenant's business number, keyed by Twilio's CallSid."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    lead_id: str
    call_sid: str
    from_phone: str
    status: str
    missed: bool = False
    texted_back: bool = False
    created_at: datetime
    updated_at: datetime
