from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from lily_core.domain.ids import new_id


@attrs.define(slots=False, eq=False, kw_only=True)
class User:
    """A person who signs in to a tenant's dashboard."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    email: str
    password_hash: str
    role: str = "owner"
    created_at: datetime


@attrs.define(slots=False, eq=False, kw_only=True)
class ApiKey:
    """A bearer token for a tenant's dashboard API; only its SHA-256 is stored."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


@attrs.define(slots=False, eq=False, kw_only=True)
class Quote:
    """A ballpark range sent to a lead, with the lines that made it and the price-book
    version it came from."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    lead_id: str
    conversation_id: str | None = None
    zip: str
    in_service_area: bool
    low_cents: int
    high_cents: int
    currency: str
    lines: list[dict[str, Any]] = attrs.field(factory=list)
    explanation: str
    pricebook_version: int
    created_at: datetime


class BookingStatus(enum.StrEnum):
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"


@attrs.define(slots=False, eq=False, kw_only=True)
class Booking:
    """An appointment booked on Cal.com, keyed by its Cal.com uid within the tenant."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    lead_id: str
    calcom_uid: str
    status: BookingStatus = BookingStatus.BOOKED
    title: str = ""
    start_at: datetime
    end_at: datetime
    address: str | None = None
    attendee_name: str | None = None
    attendee_email: str | None = None
    attendee_phone: str | None = None
    calendar_event_id: str | None = None
    # The `updated_at` of the state the tenant's calendar last took (or refused for good):
    # behind `updated_at`, a sync is owed (the reconciler re-queues it if its task is lost).
    calendar_synced_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


@attrs.define(slots=False, eq=False, kw_only=True)
class Subscription:
    """A tenant's Stripe customer and subscription, as the newest news from Stripe described
    it (lily_core.domain.billing). `status` is "none" until a subscription is known;
    `state_as_of` is the `created` of the event the state was taken from, or the time of
    the API read, so that older news arriving late is recognised as such."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    plan: str | None = None
    status: str = "none"
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    current_period_end: datetime | None = None
    past_due_since: datetime | None = None
    state_as_of: datetime | None = None
    updated_at: datetime


@attrs.define(slots=False, eq=False, kw_only=True)
class SmsUsage:
    """What a tenant sent in one allowance period ("2026-06"): automated SMS, counted
    against the plan's allowance, and the owner's manual replies, counted apart."""

    id: str = attrs.field(factory=new_id)
    tenant_id: str
    period: str
    automated: int = 0
    manual: int = 0


@attrs.define(slots=False, eq=False, kw_only=True)
class ProcessedWebhook:
    """A provider event already handled, so that a redelivery has no second effect."""

    id: str = attrs.field(factory=new_id)
    provider: str
    event_id: str
    tenant_id: str | None = None
    received_at: datetime
