"""The relational schema of every entity in lily_core.domain.

Uniqueness mirrors `lily_core.testing.uow._UNIQUE` exactly, so the in-memory fake and the
database refuse the same rows (NULLs never clash, on both PostgreSQL and SQLite). Indexes
serve the lookups the flows make; list indexes lead with `tenant_id, created_at` for the
newest-first cursor pagination, some with one column more that the stats count by (migration
0003 says which), so the stats read the index alone. Every tenant-owned row references
`tenants`.
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from lily_adapters.sql.encrypted import BLIND_INDEX, Encrypted, EncryptedJson
from lily_adapters.sql.metadata import UtcDateTime, metadata
from lily_adapters.sql.queue_table import tasks
from lily_core.domain.consent import ConsentAction
from lily_core.domain.leads import Channel, Direction, LeadStatus, MessageKind, MessageStatus
from lily_core.domain.owner_alerts import AlertKind, AlertStatus
from lily_core.domain.records import BookingStatus

__all__ = [
    "ACTIVITY_COUNTS",
    "activity_days",
    "api_keys",
    "bookings",
    "calls",
    "consent_ledger",
    "conversations",
    "lead_bookings",
    "lead_phone_keys",
    "leads",
    "messages",
    "metadata",
    "owner_alert_texts",
    "owner_alerts",
    "pricebooks",
    "quotes",
    "sms_usage",
    "subscriptions",
    "tasks",
    "tenants",
    "users",
    "webhooks",
]

E = TypeVar("E", bound=enum.StrEnum)


class StrEnumType(sa.types.TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its plain string value (VARCHAR(32), no CHECK constraint and no
    native enum type, so adding a member needs no migration) and read back as the enum."""

    impl = sa.String(32)
    cache_ok = True

    def __init__(self, enum_class: type[E]) -> None:
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        # Accept the plain string too (it is validated by the enum), for query parameters.
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> E | None:
        return None if value is None else self.enum_class(value)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(32), primary_key=True)


def _fk(target: str, **kwargs: Any) -> sa.ForeignKey:
    # Checked at COMMIT, not per statement (both PostgreSQL and SQLite can): the ORM's flush
    # orders INSERTs by mapper, not by foreign key (there are no relationships to tell it),
    # so a lead and its tenant added in one transaction may be inserted child first.
    return sa.ForeignKey(target, deferrable=True, initially="DEFERRED", **kwargs)


def _tenant_fk(nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(32), _fk("tenants.id", ondelete="CASCADE"), nullable=nullable
    )


tenants = sa.Table(
    "tenants",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("phone", sa.String(20), nullable=False, unique=True),  # unique: tenant by phone
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("forward_to", sa.String(20)),
    sa.Column("zip", sa.String(5)),
    sa.Column("booking_url", sa.String(500)),
    sa.Column("review_url", sa.String(500)),
    sa.Column("quiet_hours_start", sa.Time, nullable=False),
    sa.Column("quiet_hours_end", sa.Time, nullable=False),
    sa.Column("strict_quiet_hours", sa.Boolean, nullable=False),
    sa.Column("missed_call_template", sa.Text, nullable=False),
    sa.Column("missed_call_dedupe_minutes", sa.Integer, nullable=False),
    sa.Column("conversational_window_minutes", sa.Integer, nullable=False),
    sa.Column("review_delay_hours", sa.Integer, nullable=False),
    sa.Column("review_cooldown_days", sa.Integer, nullable=False),
    sa.Column("calcom_secret", Encrypted("tenants.calcom_secret"), nullable=False),
    sa.Column("sandbox_auth_token", Encrypted("tenants.sandbox_auth_token"), nullable=False),
    sa.Column("google_calendar_id", sa.String(255)),
    sa.Column("twilio_account_sid", sa.String(64)),
    sa.Column("twilio_auth_token", Encrypted("tenants.twilio_auth_token")),
    sa.Column("chatwoot_account_id", sa.Integer),
    sa.Column("chatwoot_inbox_id", sa.Integer),
    sa.Column("chatwoot_secret", Encrypted("tenants.chatwoot_secret")),
    sa.Column("automations_paused", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # migration 0008: the HELP answer's contact and sentence, the first text's opt-out line
    sa.Column("help_contact", sa.String(254)),
    sa.Column("help_message", sa.String(160)),
    sa.Column("opt_out_notice", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("opt_out_notice_changed_at", UtcDateTime),
    # migration 0011: alerts to the owner's phones and the daily digest (issue 18)
    sa.Column("notify_to", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("alert_new_lead", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("alert_quote", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("alert_booking", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("alert_needs_reply", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("alert_opt_out", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("alert_quiet_start", sa.Time),
    sa.Column("alert_quiet_end", sa.Time),
    sa.Column("alerts_per_hour", sa.Integer, nullable=False, server_default="10"),
    sa.Column("alert_stops", sa.JSON, nullable=False, server_default="{}"),
    sa.Column("digest_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("digest_time", sa.Time, nullable=False, server_default="07:00:00"),
    sa.Column("digest_email", sa.String(254)),
    sa.Column("digest_sent_on", sa.Date),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "tenant_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
    sa.Index(None, "tenant_id", "created_at"),
)

leads = sa.Table(
    "leads",
    metadata,
    _id(),
    _tenant_fk(),
    # encrypted at rest (migration 0012); found by the blind indexes below
    sa.Column("phone", Encrypted("leads.phone")),
    sa.Column("name", Encrypted("leads.name")),
    sa.Column("email", Encrypted("leads.email")),
    sa.Column("zip", sa.String(5)),
    sa.Column("status", StrEnumType(LeadStatus), nullable=False),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("opted_out_at", UtcDateTime),
    sa.Column("last_review_request_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("first_contact_at", UtcDateTime),
    # the dashboard: an owner taking over pauses Lily's automated texts to this lead
    sa.Column("automations_paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_activity_at", UtcDateTime),  # the newest message in or out
    sa.Column("last_inbound_at", UtcDateTime),  # the newest message from the lead
    sa.Column("last_read_at", UtcDateTime),  # when the owner last read the conversation
    # blind indexes, kept by the mapping (mapping.py): HMACs of the number and of the
    # lower-cased email, under the tenant (lily_adapters.crypto.BlindIndexer)
    sa.Column("phone_bidx", BLIND_INDEX),
    sa.Column("email_bidx", BLIND_INDEX),
    sa.UniqueConstraint("tenant_id", "phone_bidx"),  # also the lead-by-phone index
    sa.Index("ix_leads_tenant_created_id", "tenant_id", "created_at", "id"),  # id: booked leads
    sa.Index(None, "tenant_id", "email_bidx"),
    # the dashboard's lists: newest activity first, all or by status (keyset on id)
    sa.Index("ix_leads_tenant_activity", "tenant_id", "last_activity_at", "id"),
    sa.Index("ix_leads_tenant_status_activity", "tenant_id", "status", "last_activity_at", "id"),
)

# The dashboard's search by phone digits (lily_core.domain.lead_search): a row per key a
# lead's number is found by (its starts and ends), each a blind index, kept by the mapping.
lead_phone_keys = sa.Table(
    "lead_phone_keys",
    metadata,
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), _fk("leads.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", BLIND_INDEX, primary_key=True),
    sa.Index(None, "tenant_id", "key"),
)

conversations = sa.Table(
    "conversations",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), _fk("leads.id"), nullable=False),
    sa.Column("channel", StrEnumType(Channel), nullable=False),
    sa.Column("chatwoot_conversation_id", sa.Integer),
    sa.Column("zip", sa.String(5)),
    sa.Column("photo_count", sa.Integer, nullable=False),
    sa.Column("service_text", Encrypted("conversations.service_text"), nullable=False),
    sa.Column("quoted_photo_count", sa.Integer),
    sa.Column("quoted_zip", sa.String(5)),
    sa.Column("last_prompt", sa.String(16)),
    sa.Column("last_customer_activity_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index(None, "tenant_id", "lead_id", "created_at"),
    sa.Index(None, "tenant_id", "chatwoot_conversation_id"),
)

messages = sa.Table(
    "messages",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), _fk("leads.id"), nullable=False),
    sa.Column("conversation_id", sa.String(32), _fk("conversations.id")),
    sa.Column("direction", StrEnumType(Direction), nullable=False),
    sa.Column("kind", StrEnumType(MessageKind), nullable=False),
    sa.Column("body", Encrypted("messages.body"), nullable=False),
    sa.Column("media", EncryptedJson("messages.media"), nullable=False),  # URLs carry numbers
    sa.Column("status", StrEnumType(MessageStatus), nullable=False),
    sa.Column("business_initiated", sa.Boolean, nullable=False),
    sa.Column("provider_sid", sa.String(64)),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_message", sa.Text),
    sa.Column("send_after", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.UniqueConstraint("tenant_id", "provider_sid"),  # also the status-callback lookup
    sa.Index(None, "tenant_id", "lead_id", "created_at"),
    sa.Index(None, "status", "created_at"),  # the reconciler's list_queued
    # stats: the text-backs of a window; sent_at so the median reads the index alone
    sa.Index("ix_messages_tenant_kind_created", "tenant_id", "kind", "created_at", "sent_at"),
    # stats on PostgreSQL: the text-backs in order of their delay, for the median (0010)
    sa.Index(
        "ix_messages_speed_to_lead",
        "tenant_id",
        sa.text("(sent_at - created_at)"),
        postgresql_include=["created_at", "sent_at"],
        postgresql_where=sa.text("kind = 'missed_call' AND sent_at IS NOT NULL"),
    ).ddl_if(dialect="postgresql"),
)

calls = sa.Table(
    "calls",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), _fk("leads.id"), nullable=False),
    sa.Column("call_sid", sa.String(64), nullable=False),
    sa.Column("from_phone", Encrypted("calls.from_phone"), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("missed", sa.Boolean, nullable=False),
    sa.Column("texted_back", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "call_sid"),
    sa.Index(None, "tenant_id", "lead_id", "created_at"),
    sa.Index("ix_calls_tenant_missed_created", "tenant_id", "missed", "created_at"),  # stats
)

quotes = sa.Table(
    "quotes",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), _fk("leads.id"), nullable=False),
    sa.Column("conversation_id", sa.String(32), _fk("conversations.id")),
    sa.Column("zip", sa.String(5), nullable=False),
    sa.Column("in_service_area", sa.Boolean, nullable=False),
    sa.Column("low_cents", sa.Integer, nullable=False),
    sa.Column("high_cents", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("pricebook_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_quotes_tenant_created_area", "tenant_id", "created_at", "in_service_area"),
    sa.Index(None, "tenant_id", "lead_id", "created_at"),
)

bookings = sa.Table(
    "bookings",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), _fk("leads.id"), nullable=False),
    sa.Column("calcom_uid", sa.String(128), nullable=False),
    sa.Column("status", StrEnumType(BookingStatus), nullable=False),
    sa.Column("title", Encrypted("bookings.title"), nullable=False),  # names the attendee
    sa.Column("start_at", UtcDateTime, nullable=False),
    sa.Column("end_at", UtcDateTime, nullable=False),
    sa.Column("address", Encrypted("bookings.address")),
    sa.Column("attendee_name", Encrypted("bookings.attendee_name")),
    sa.Column("attendee_email", Encrypted("bookings.attendee_email")),
    sa.Column("attendee_phone", Encrypted("bookings.attendee_phone")),
    sa.Column("calendar_event_id", sa.String(1024)),
    sa.Column("calendar_synced_at", UtcDateTime),  # issue 13: the sync owed is recoverable
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "calcom_uid"),
    sa.Index("ix_bookings_updated", "updated_at"),  # the reconciler's recent changes
    sa.Index("ix_bookings_tenant_created_status", "tenant_id", "created_at", "status"),
    sa.Index("ix_bookings_tenant_start", "tenant_id", "start_at", "id"),  # soonest first
    sa.Index("ix_bookings_tenant_lead", "tenant_id", "lead_id", "status"),  # stats: booked leads
)

# The dashboard's figures, rolled up on PostgreSQL by triggers (migration 0010 says how):
# per tenant and local day in its time zone, what began on it; and per lead, how many of its
# bookings are not cancelled. Empty on SQLite, which counts the rows themselves.
ACTIVITY_COUNTS = ("leads", "quotes", "bookings", "missed_calls", "texted_back", "booked_leads")

activity_days = sa.Table(
    "activity_days",
    metadata,
    sa.Column("tenant_id", sa.String(32), _fk("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    *(
        sa.Column(count, sa.Integer, nullable=False, server_default="0")
        for count in ACTIVITY_COUNTS
    ),
)

lead_bookings = sa.Table(
    "lead_bookings",
    metadata,
    sa.Column("tenant_id", sa.String(32), _fk("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("lead_id", sa.String(32), primary_key=True),
    sa.Column("active", sa.Integer, nullable=False),
)

# Failed dashboard sign-ins, counted per key ("email:..." or "ip:...") in a fixed window,
# where no Redis is configured: shared by every API process through the database.
signin_failures = sa.Table(
    "signin_failures",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_started_at", UtcDateTime, nullable=False),
    sa.Column("blocked_until", UtcDateTime),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("plan", sa.String(32)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("stripe_customer_id", sa.String(255), index=True),
    sa.Column("stripe_subscription_id", sa.String(255)),
    sa.Column("current_period_end", UtcDateTime),
    sa.Column("past_due_since", UtcDateTime),
    sa.Column("state_as_of", UtcDateTime),  # migration 0005
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id"),
)

# SMS counted per tenant and allowance period (migration 0005): the send path's atomic
# "UPDATE ... SET automated = automated + 1 WHERE automated < :limit" works on this row.
sms_usage = sa.Table(
    "sms_usage",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("period", sa.String(7), nullable=False),  # "2026-06"
    sa.Column("automated", sa.Integer, nullable=False),
    sa.Column("manual", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "period"),
)

# The opt-out ledger (migration 0007): a tenant's data, but no foreign key to leads, so
# that deleting a lead keeps the record of its choice.
consent_ledger = sa.Table(
    "consent_ledger",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("phone", Encrypted("consent_ledger.phone"), nullable=False),
    sa.Column("phone_bidx", BLIND_INDEX, nullable=False),  # kept by the mapping
    sa.Column("lead_id", sa.String(32)),
    sa.Column("action", StrEnumType(ConsentAction), nullable=False),
    sa.Column("evidence", sa.String(64), nullable=False),
    sa.Column("message_sid", sa.String(64)),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "tenant_id", "phone_bidx", "created_at"),
    sa.Index(None, "tenant_id", "created_at"),
)

pricebooks = sa.Table(
    "pricebooks",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "version"),  # also current(): highest version
)

# Alerts to a tenant's owner (issue 18): each event, and each text that carried some.
owner_alerts = sa.Table(
    "owner_alerts",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("lead_id", sa.String(32), nullable=False),  # no FK: outlives an erased lead
    sa.Column("kind", StrEnumType(AlertKind), nullable=False),
    sa.Column("detail", sa.String(200), nullable=False),
    sa.Column("ref", sa.String(64)),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("status", StrEnumType(AlertStatus), nullable=False),
    sa.Column("text_id", sa.String(32)),
    sa.Index(None, "tenant_id", "status", "occurred_at"),
    sa.Index(None, "tenant_id", "ref"),
    sa.Index(None, "tenant_id", "text_id"),
)

owner_alert_texts = sa.Table(
    "owner_alert_texts",
    metadata,
    _id(),
    _tenant_fk(),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("sent", sa.Integer, nullable=False),
    sa.Column("summary", sa.Boolean, nullable=False),
    sa.Column("failed", sa.Boolean, nullable=False),
    sa.Column("error", sa.String(200)),
    sa.Index(None, "tenant_id", "created_at"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    _id(),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    _tenant_fk(nullable=True),  # Stripe events arrive before we know the tenant
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("provider", "event_id"),
)
