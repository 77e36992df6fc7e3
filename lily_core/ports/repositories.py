"""Repositories, as handed out by a UnitOfWork. Every tenant-owned lookup takes the
tenant id first: nothing of one tenant is reachable through another's id."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from lily_core.domain.consent import ConsentRecord
from lily_core.domain.lead_search import LeadSearch
from lily_core.domain.leads import Call, Conversation, Lead, LeadStatus, Message
from lily_core.domain.owner_alerts import OwnerAlert, OwnerAlertText
from lily_core.domain.pagination import Cursor, Page
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.domain.records import (
    ApiKey,
    Booking,
    BookingStatus,
    ProcessedWebhook,
    Quote,
    SmsUsage,
    Subscription,
    User,
)
from lily_core.domain.tenant import Tenant


class TenantRepository(Protocol):
    def add(self, tenant: Tenant) -> None: ...
    def get(self, tenant_id: str) -> Tenant | None: ...
    def get_by_slug(self, slug: str) -> Tenant | None: ...
    def get_by_phone(self, phone: str) -> Tenant | None: ...
    def list(self) -> list[Tenant]: ...


class UserRepository(Protocol):
    def add(self, user: User) -> None: ...
    def get(self, tenant_id: str, user_id: str) -> User | None: ...
    def get_by_email(self, email: str) -> User | None: ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...
    def get_by_hash(self, key_hash: str) -> ApiKey | None: ...
    def list(self, tenant_id: str) -> list[ApiKey]: ...


class LeadRepository(Protocol):
    def add(self, lead: Lead) -> None: ...
    def get(self, tenant_id: str, lead_id: str) -> Lead | None: ...
    def get_by_phone(self, tenant_id: str, phone: str) -> Lead | None: ...
    def get_by_email(self, tenant_id: str, email: str) -> Lead | None: ...
    def list(
        self,
        tenant_id: str,
        *,
        status: LeadStatus | None = None,
        search: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Lead]:
        """Newest first; `search` matches name or phone, case-insensitively."""
        ...

    def list_by_activity(
        self,
        tenant_id: str,
        *,
        status: LeadStatus | None = None,
        search: LeadSearch | None = None,
        opted_out: bool | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Lead]:
        """The dashboard's list: newest `last_activity_at` first, then leads with no
        activity yet (newest id first); keyset-paginated on (last_activity_at, id), so a
        lead added while the pages are walked is never shown twice nor shifts the others."""
        ...

    def locate(self, lead_id: str) -> Lead | None:
        """The lead with this id in whichever tenant: for the operator's CLI only (the
        dashboard always asks through `get`, with the caller's tenant)."""
        ...


class ConversationRepository(Protocol):
    def add(self, conversation: Conversation) -> None: ...
    def get(self, tenant_id: str, conversation_id: str) -> Conversation | None: ...
    def latest_for_lead(self, tenant_id: str, lead_id: str) -> Conversation | None: ...
    def get_by_chatwoot_id(self, tenant_id: str, chatwoot_id: int) -> Conversation | None: ...


class MessageRepository(Protocol):
    def add(self, message: Message) -> None: ...
    def get(self, tenant_id: str, message_id: str) -> Message | None: ...
    def get_by_provider_sid(self, tenant_id: str, sid: str) -> Message | None: ...
    def list_for_lead(
        self,
        tenant_id: str,
        lead_id: str,
        *,
        limit: int = 50,
        after: Cursor | None = None,
        oldest_first: bool = False,
    ) -> Page[Message]:
        """The lead's messages by (created_at, id), newest first; or `oldest_first`, by
        (created_at, direction, id): at one instant what the lead sent comes before what
        answered it. An `oldest_first` cursor names a message of this lead (InvalidInput
        else)."""
        ...

    def list_queued(self, *, created_before: datetime, limit: int = 500) -> list[Message]:
        """Outbound messages still QUEUED, all tenants, oldest first (for the reconciler)."""
        ...

    def list_held(
        self,
        *,
        error_codes: Collection[str],
        created_after: datetime,
        tenant_id: str | None = None,
        limit: int = 500,
    ) -> list[Message]:
        """Outbound messages HELD with one of these error codes and created after
        `created_after`, of one tenant or (None) of all, oldest first (for the release of
        billing holds)."""
        ...

    # -- interrupted sends (issue 13) --
    def list_sending(self, *, updated_before: datetime, limit: int = 500) -> list[Message]:
        """Outbound messages SENDING since before `updated_before`, all tenants, oldest
        first (for the reconciler: the task that was sending them may be lost)."""
        ...

    def list_received(
        self, *, created_after: datetime, created_before: datetime, limit: int = 1000
    ) -> list[Message]:
        """Inbound messages RECEIVED in [created_after, created_before), all tenants, newest
        first (for the reconciler: photos whose COPY_MEDIA task may be lost)."""
        ...

    def count_failed(self, error_code: str) -> int:
        """Outbound messages FAILED with this error code, all tenants (for `lily queue
        stats`: interrupted sends that could not be cleared up)."""
        ...


class CallRepository(Protocol):
    def add(self, call: Call) -> None: ...
    def get_by_sid(self, tenant_id: str, call_sid: str) -> Call | None: ...
    def last_texted_back(self, tenant_id: str, lead_id: str) -> Call | None:
        """The lead's most recent call that produced a text-back."""
        ...


class QuoteRepository(Protocol):
    def add(self, quote: Quote) -> None: ...
    def get(self, tenant_id: str, quote_id: str) -> Quote | None: ...
    def latest_for_lead(self, tenant_id: str, lead_id: str) -> Quote | None: ...
    def list(
        self,
        tenant_id: str,
        *,
        lead_id: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Quote]: ...


class BookingRepository(Protocol):
    def add(self, booking: Booking) -> None: ...
    def get(self, tenant_id: str, booking_id: str) -> Booking | None: ...
    def get_by_uid(self, tenant_id: str, calcom_uid: str) -> Booking | None: ...
    def list(
        self, tenant_id: str, *, limit: int = 50, after: Cursor | None = None
    ) -> Page[Booking]: ...

    def list_by_start(
        self,
        tenant_id: str,
        *,
        status: BookingStatus | None = None,
        lead_id: str | None = None,
        start_from: datetime | None = None,
        start_before: datetime | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Booking]:
        """The dashboard's list: soonest `start_at` first (then id), those starting in
        [start_from, start_before) with this status, of this lead; keyset-paginated on
        (start_at, id), the cursor carrying the last item's start_at."""
        ...

    def list_calendar_behind(
        self, *, updated_after: datetime, updated_before: datetime, limit: int = 500
    ) -> builtins.list[Booking]:
        """Bookings changed in [updated_after, updated_before) whose calendar has not taken
        that change (`calendar_synced_at` unset or older than `updated_at`), all tenants,
        oldest change first (for the reconciler: their CALENDAR_SYNC task may be lost)."""
        ...


class SubscriptionRepository(Protocol):
    def add(self, subscription: Subscription) -> None: ...
    def get(self, tenant_id: str) -> Subscription | None: ...
    def get_by_customer(self, stripe_customer_id: str) -> Subscription | None: ...


class SmsUsageRepository(Protocol):
    """SMS counted per tenant and allowance period; every count is atomic, so concurrent
    senders (threads, workers, hosts) never count past a limit together."""

    def reserve(self, tenant_id: str, period: str, limit: int | None) -> bool:
        """Count one automated SMS if fewer than `limit` are counted (any number if None);
        whether it was counted. The count is part of the unit of work's transaction."""
        ...

    def count_manual(self, tenant_id: str, period: str) -> None:
        """Count one manual reply (never limited)."""
        ...

    def refund(self, tenant_id: str, period: str, *, manual: bool = False) -> None:
        """Take back one count (a send that failed); never below zero."""
        ...

    def get(self, tenant_id: str, period: str) -> SmsUsage:
        """The period's counts (zeros when nothing was counted)."""
        ...


class PriceBookRepository(Protocol):
    def add(self, version: PriceBookVersion) -> None: ...
    def current(self, tenant_id: str) -> PriceBookVersion | None:
        """The highest version, or None if the tenant has no price book yet."""
        ...

    def get_version(self, tenant_id: str, version: int) -> PriceBookVersion | None: ...
    def list_versions(self, tenant_id: str) -> list[int]: ...
    def history(self, tenant_id: str) -> list[tuple[int, datetime]]:
        """(version, created_at) of every version, newest first."""
        ...


class ConsentLedger(Protocol):
    """The opt-out ledger: records are only ever added (never changed or deleted)."""

    def add(self, record: ConsentRecord) -> None: ...
    def latest_for_phone(self, tenant_id: str, phone: str) -> ConsentRecord | None:
        """The newest record for the number, or None if it never opted out or in."""
        ...

    def list_since(self, tenant_id: str, since: datetime | None) -> list[ConsentRecord]:
        """Every record from `since` on (all if None), oldest first."""
        ...


class OwnerAlertRepository(Protocol):
    """Alerts to a tenant's owner (issue 18): the events, and the texts that carried them."""

    def add(self, alert: OwnerAlert) -> None: ...
    def add_text(self, text: OwnerAlertText) -> None: ...
    def has_ref(self, tenant_id: str, ref: str) -> bool:
        """Whether an alert with this `ref` was raised already."""
        ...

    def pending(self, tenant_id: str) -> list[OwnerAlert]:
        """The tenant's PENDING alerts, oldest first."""
        ...

    def claim(self, tenant_id: str, alert_ids: Collection[str], text_id: str) -> bool:
        """Mark these PENDING alerts SENDING for `text_id`, all or none: False (nothing
        changed) if any is no longer PENDING (another worker took it). Atomic against
        concurrent claims once committed."""
        ...

    def finish(self, tenant_id: str, text_id: str, status: str) -> None:
        """Set the status of every alert the text carries."""
        ...

    def get_text(self, tenant_id: str, text_id: str) -> OwnerAlertText | None: ...
    def texts_since(self, tenant_id: str, since: datetime) -> list[OwnerAlertText]:
        """The tenant's alert texts created from `since` on, oldest first."""
        ...

    def last_alerted_lead(self, tenant_id: str, since: datetime) -> str | None:
        """The lead of the newest alert text about one lead sent from `since` on (what an
        owner's "R <text>" answers), or None."""
        ...

    def tenants_waiting(self, occurred_before: datetime) -> list[str]:
        """Every tenant with a PENDING alert older than `occurred_before` (for the
        reconciler; spans tenants)."""
        ...


class WebhookRepository(Protocol):
    def seen(self, provider: str, event_id: str) -> bool: ...
    def add(self, record: ProcessedWebhook) -> None: ...


# Tables whose rows belong to one tenant. A unit of work reaches them only once it says for
# whom it works: `for_tenant(id)`, or `across_tenants()` for the few jobs that span tenants
# on purpose. Unscoped, they look empty (the tenants directory and the webhook ledger are
# always reachable: they are how a request finds its tenant).
TENANT_OWNED_TABLES = frozenset(
    {
        "users",
        "api_keys",
        "leads",
        "lead_phone_keys",
        "conversations",
        "messages",
        "calls",
        "quotes",
        "bookings",
        "subscriptions",
        "pricebooks",
        "sms_usage",
        "consent_ledger",
        "owner_alerts",
        "owner_alert_texts",
    }
)


class UnitOfWork(Protocol):
    """One transaction: `with uow:` opens it, `uow.commit()` makes it stick, leaving the
    block without committing rolls it back. Adding a row that breaks a uniqueness rule
    raises Conflict at commit.

    Tenant scope, the second wall after every query's tenant filter: inside a block, rows of
    TENANT_OWNED_TABLES are visible (and writable) only once `for_tenant(tenant_id)` (that
    tenant's rows only) or `across_tenants()` (work that spans tenants, saying so) has been
    called; the scope lasts until the block ends. On PostgreSQL, row-level security enforces
    it, so a query that forgot its tenant filter still sees one tenant's rows at most. Both
    return the unit of work: `with uow.for_tenant(tenant.id):`."""

    tenants: TenantRepository
    users: UserRepository
    api_keys: ApiKeyRepository
    leads: LeadRepository
    conversations: ConversationRepository
    messages: MessageRepository
    calls: CallRepository
    quotes: QuoteRepository
    bookings: BookingRepository
    subscriptions: SubscriptionRepository
    sms_usage: SmsUsageRepository
    consent: ConsentLedger
    pricebooks: PriceBookRepository
    webhooks: WebhookRepository
    owner_alerts: OwnerAlertRepository

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def for_tenant(self, tenant_id: str) -> Self: ...
    def across_tenants(self) -> Self: ...
