from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from lily_core.domain.consent import ConsentRecord
from lily_core.domain.lead_search import LeadSearch
from lily_core.domain.leads import (
    Call,
    Conversation,
    Direction,
    Lead,
    LeadStatus,
    Message,
    MessageStatus,
)
from lily_core.domain.owner_alerts import AlertStatus, OwnerAlert, OwnerAlertText
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
from lily_core.errors import Conflict, InvalidInput
from lily_core.ports.repositories import (
    TENANT_OWNED_TABLES,
    ApiKeyRepository,
    BookingRepository,
    CallRepository,
    ConsentLedger,
    ConversationRepository,
    LeadRepository,
    MessageRepository,
    OwnerAlertRepository,
    PriceBookRepository,
    QuoteRepository,
    SmsUsageRepository,
    SubscriptionRepository,
    TenantRepository,
    UserRepository,
    WebhookRepository,
)

E = TypeVar("E")
ALL_TENANTS = object()  # the scope of across_tenants()

# table -> the attribute tuples that must be unique in it (None values never clash)
_UNIQUE: dict[str, list[tuple[str, ...]]] = {
    "tenants": [("slug",), ("phone",)],
    "users": [("email",)],
    "api_keys": [("key_hash",)],
    "leads": [("tenant_id", "phone")],
    "calls": [("tenant_id", "call_sid")],
    "messages": [("tenant_id", "provider_sid")],
    "bookings": [("tenant_id", "calcom_uid")],
    "subscriptions": [("tenant_id",)],
    "sms_usage": [("tenant_id", "period")],
    "consent_ledger": [],
    "pricebooks": [("tenant_id", "version")],
    "webhooks": [("provider", "event_id")],
    "owner_alerts": [],
    "owner_alert_texts": [],
}


class InMemoryDatabase:
    """The committed state shared by every InMemoryUnitOfWork made from it."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {name: {} for name in _UNIQUE}
        self.tables.update(conversations={}, quotes={})
        self.lock = threading.Lock()


def _page(items: list[E], limit: int, after: Cursor | None) -> Page[E]:
    ordered = sorted(items, key=lambda e: (e.created_at, e.id), reverse=True)  # type: ignore[attr-defined]
    if after is not None:
        ordered = [e for e in ordered if (e.created_at, e.id) < (after.created_at, after.id)]  # type: ignore[attr-defined]
    page = ordered[:limit]
    more = len(ordered) > limit
    cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more and page else None  # type: ignore[attr-defined]
    return Page(page, cursor)


class _Table:
    def __init__(self, uow: InMemoryUnitOfWork, name: str) -> None:
        self._uow, self._name = uow, name

    @property
    def _rows(self) -> dict[str, Any]:
        """The rows this unit of work may see: its tenant's only, as row-level security
        shows them on PostgreSQL (see UnitOfWork's tenant scope)."""
        rows: dict[str, Any] = self._uow.working[self._name]
        if self._name not in TENANT_OWNED_TABLES or self._uow.scope is ALL_TENANTS:
            return rows
        return {k: e for k, e in rows.items() if e.tenant_id == self._uow.scope}

    def add(self, entity: Any) -> None:
        scope = self._uow.scope
        owned = self._name in TENANT_OWNED_TABLES and scope is not ALL_TENANTS
        if owned and entity.tenant_id != scope:  # PostgreSQL: "violates row-level security"
            raise PermissionError(f"{self._name}: a row of another tenant than {scope!r}")
        self._uow.working[self._name][entity.id] = entity

    def _where(self, pred: Callable[[Any], bool]) -> list[Any]:
        return [e for e in self._rows.values() if pred(e)]

    def _one(self, pred: Callable[[Any], bool]) -> Any:
        found = self._where(pred)
        return found[0] if found else None


class _Tenants(_Table):
    def get(self, tenant_id: str) -> Tenant | None:
        return self._rows.get(tenant_id)

    def get_by_slug(self, slug: str) -> Tenant | None:
        return self._one(lambda t: t.slug == slug)  # type: ignore[no-any-return]

    def get_by_phone(self, phone: str) -> Tenant | None:
        return self._one(lambda t: t.phone == phone)  # type: ignore[no-any-return]

    def list(self) -> list[Tenant]:
        return sorted(self._rows.values(), key=lambda t: t.slug)


class _Scoped(_Table):
    def get(self, tenant_id: str, entity_id: str) -> Any:
        found = self._rows.get(entity_id)
        return found if found is not None and found.tenant_id == tenant_id else None


class _Users(_Scoped):
    def get_by_email(self, email: str) -> User | None:
        return self._one(lambda u: u.email == email.lower())  # type: ignore[no-any-return]


class _ApiKeys(_Table):
    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return self._one(lambda k: k.key_hash == key_hash)  # type: ignore[no-any-return]

    def list(self, tenant_id: str) -> list[ApiKey]:
        return self._where(lambda k: k.tenant_id == tenant_id)


class _Leads(_Scoped):
    def get_by_phone(self, tenant_id: str, phone: str) -> Lead | None:
        return self._one(lambda x: x.tenant_id == tenant_id and x.phone == phone)  # type: ignore[no-any-return]

    def get_by_email(self, tenant_id: str, email: str) -> Lead | None:
        email = email.lower()
        return self._one(  # type: ignore[no-any-return]
            lambda x: x.tenant_id == tenant_id and (x.email or "").lower() == email
        )

    def list(
        self,
        tenant_id: str,
        *,
        status: LeadStatus | None = None,
        search: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Lead]:
        needle = (search or "").lower()

        def keep(lead: Lead) -> bool:
            return (
                lead.tenant_id == tenant_id
                and (status is None or lead.status == status)
                and (
                    not needle
                    or needle in (lead.name or "").lower()
                    or needle in (lead.phone or "")
                )
            )

        return _page(self._where(keep), limit, after)

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
        def keep(lead: Lead) -> bool:
            return (
                lead.tenant_id == tenant_id
                and (status is None or lead.status == status)
                and (opted_out is None or lead.opted_out == opted_out)
                and (search is None or search.matches(lead.name, lead.email, lead.phone))
            )

        # Newest activity first, then the leads with none (None sorts below any time).
        def position(key: datetime | None, ident: str) -> tuple[bool, datetime, str]:
            return (key is not None, key or datetime.min.replace(tzinfo=UTC), ident)

        ordered = sorted(
            self._where(keep), key=lambda x: position(x.last_activity_at, x.id), reverse=True
        )
        if after is not None:
            last = position(after.key, after.id)
            ordered = [x for x in ordered if position(x.last_activity_at, x.id) < last]
        page = ordered[:limit]
        more = len(ordered) > limit
        cursor = Cursor(page[-1].last_activity_at, page[-1].id).encode() if more else None
        return Page(page, cursor)

    def locate(self, lead_id: str) -> Lead | None:
        return self._rows.get(lead_id)


class _Conversations(_Scoped):
    def latest_for_lead(self, tenant_id: str, lead_id: str) -> Conversation | None:
        found = self._where(lambda c: c.tenant_id == tenant_id and c.lead_id == lead_id)
        return max(found, key=lambda c: (c.created_at, c.id), default=None)

    def get_by_chatwoot_id(self, tenant_id: str, chatwoot_id: int) -> Conversation | None:
        return self._one(  # type: ignore[no-any-return]
            lambda c: c.tenant_id == tenant_id and c.chatwoot_conversation_id == chatwoot_id
        )


class _Messages(_Scoped):
    def get_by_provider_sid(self, tenant_id: str, sid: str) -> Message | None:
        return self._one(lambda m: m.tenant_id == tenant_id and m.provider_sid == sid)  # type: ignore[no-any-return]

    def list_for_lead(
        self,
        tenant_id: str,
        lead_id: str,
        *,
        limit: int = 50,
        after: Cursor | None = None,
        oldest_first: bool = False,
    ) -> Page[Message]:
        found = self._where(lambda m: m.tenant_id == tenant_id and m.lead_id == lead_id)
        if not oldest_first:
            return _page(found, limit, after)
        # at one instant, what the lead sent first (inbound < outbound), as the SQL adapter
        ordered = sorted(found, key=lambda m: (m.created_at, m.direction, m.id))
        if after is not None:
            anchor = self.get(tenant_id, after.id)
            if anchor is None or anchor.lead_id != lead_id:
                raise InvalidInput("not a valid cursor", field="cursor")
            last = (anchor.created_at, anchor.direction, anchor.id)
            ordered = [m for m in ordered if (m.created_at, m.direction, m.id) > last]
        page = ordered[:limit]
        more = len(ordered) > limit
        cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
        return Page(page, cursor)

    def list_queued(self, *, created_before: datetime, limit: int = 500) -> list[Message]:
        found = self._where(
            lambda m: (
                m.direction == Direction.OUTBOUND
                and m.status == MessageStatus.QUEUED
                and m.created_at < created_before
            )
        )
        return sorted(found, key=lambda m: (m.created_at, m.id))[:limit]

    def list_held(
        self,
        *,
        error_codes: Collection[str],
        created_after: datetime,
        tenant_id: str | None = None,
        limit: int = 500,
    ) -> list[Message]:
        found = self._where(
            lambda m: (
                m.direction == Direction.OUTBOUND
                and m.status == MessageStatus.HELD
                and m.error_code in error_codes
                and m.created_at > created_after
                and (tenant_id is None or m.tenant_id == tenant_id)
            )
        )
        return sorted(found, key=lambda m: (m.created_at, m.id))[:limit]

    # -- interrupted sends (issue 13) --
    def list_sending(self, *, updated_before: datetime, limit: int = 500) -> list[Message]:
        found = self._where(
            lambda m: (
                m.direction == Direction.OUTBOUND
                and m.status == MessageStatus.SENDING
                and m.updated_at < updated_before
            )
        )
        return sorted(found, key=lambda m: (m.updated_at, m.id))[:limit]

    def list_received(
        self, *, created_after: datetime, created_before: datetime, limit: int = 1000
    ) -> list[Message]:
        found = self._where(
            lambda m: (
                m.direction == Direction.INBOUND
                and m.status == MessageStatus.RECEIVED
                and created_after <= m.created_at < created_before
            )
        )
        return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)[:limit]

    def count_failed(self, error_code: str) -> int:
        return len(
            self._where(
                lambda m: (
                    m.direction == Direction.OUTBOUND
                    and m.status == MessageStatus.FAILED
                    and m.error_code == error_code
                )
            )
        )


class _Calls(_Scoped):
    def get_by_sid(self, tenant_id: str, call_sid: str) -> Call | None:
        return self._one(lambda c: c.tenant_id == tenant_id and c.call_sid == call_sid)  # type: ignore[no-any-return]

    def last_texted_back(self, tenant_id: str, lead_id: str) -> Call | None:
        found = self._where(
            lambda c: c.tenant_id == tenant_id and c.lead_id == lead_id and c.texted_back
        )
        return max(found, key=lambda c: (c.created_at, c.id), default=None)


class _Quotes(_Scoped):
    def latest_for_lead(self, tenant_id: str, lead_id: str) -> Quote | None:
        found = self._where(lambda q: q.tenant_id == tenant_id and q.lead_id == lead_id)
        return max(found, key=lambda q: (q.created_at, q.id), default=None)

    def list(
        self,
        tenant_id: str,
        *,
        lead_id: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Quote]:
        return _page(
            self._where(
                lambda q: q.tenant_id == tenant_id and (lead_id is None or q.lead_id == lead_id)
            ),
            limit,
            after,
        )


class _Bookings(_Scoped):
    def list_calendar_behind(
        self, *, updated_after: datetime, updated_before: datetime, limit: int = 500
    ) -> list[Booking]:
        found = self._where(
            lambda b: (
                updated_after <= b.updated_at < updated_before
                and (b.calendar_synced_at is None or b.calendar_synced_at < b.updated_at)
            )
        )
        return sorted(found, key=lambda b: (b.updated_at, b.id))[:limit]

    def get_by_uid(self, tenant_id: str, calcom_uid: str) -> Booking | None:
        return self._one(lambda b: b.tenant_id == tenant_id and b.calcom_uid == calcom_uid)  # type: ignore[no-any-return]

    def list(
        self, tenant_id: str, *, limit: int = 50, after: Cursor | None = None
    ) -> Page[Booking]:
        return _page(self._where(lambda b: b.tenant_id == tenant_id), limit, after)

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
        def keep(b: Booking) -> bool:
            return (
                b.tenant_id == tenant_id
                and (status is None or b.status == status)
                and (lead_id is None or b.lead_id == lead_id)
                and (start_from is None or b.start_at >= start_from)
                and (start_before is None or b.start_at < start_before)
                and (after is None or (b.start_at, b.id) > (after.created_at, after.id))
            )

        found = sorted(self._where(keep), key=lambda b: (b.start_at, b.id))
        page = found[:limit]
        more = len(found) > limit
        cursor = Cursor(page[-1].start_at, page[-1].id).encode() if more and page else None
        return Page(page, cursor)


class _Subscriptions(_Table):
    def get(self, tenant_id: str) -> Subscription | None:
        return self._one(lambda s: s.tenant_id == tenant_id)  # type: ignore[no-any-return]

    def get_by_customer(self, stripe_customer_id: str) -> Subscription | None:
        return self._one(lambda s: s.stripe_customer_id == stripe_customer_id)  # type: ignore[no-any-return]


class _SmsUsage(_Table):
    """Counts in the unit of work's private copy, published by commit: honest for one
    writer at a time; the SQL adapter's counts are atomic across writers."""

    def _row(self, tenant_id: str, period: str) -> SmsUsage:
        row = self._one(lambda u: u.tenant_id == tenant_id and u.period == period)
        if row is None:
            row = SmsUsage(tenant_id=tenant_id, period=period)
            self.add(row)
        return row  # type: ignore[no-any-return]

    def reserve(self, tenant_id: str, period: str, limit: int | None) -> bool:
        row = self._row(tenant_id, period)
        if limit is not None and row.automated >= limit:
            return False
        row.automated += 1
        return True

    def count_manual(self, tenant_id: str, period: str) -> None:
        self._row(tenant_id, period).manual += 1

    def refund(self, tenant_id: str, period: str, *, manual: bool = False) -> None:
        row = self._row(tenant_id, period)
        if manual:
            row.manual = max(0, row.manual - 1)
        else:
            row.automated = max(0, row.automated - 1)

    def get(self, tenant_id: str, period: str) -> SmsUsage:
        found = self._one(lambda u: u.tenant_id == tenant_id and u.period == period)
        return copy.copy(found) if found else SmsUsage(tenant_id=tenant_id, period=period)


class _ConsentLedger(_Table):
    def _for(self, tenant_id: str) -> list[ConsentRecord]:
        found = self._where(lambda r: r.tenant_id == tenant_id)
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def latest_for_phone(self, tenant_id: str, phone: str) -> ConsentRecord | None:
        found = [r for r in self._for(tenant_id) if r.phone == phone]
        return found[-1] if found else None

    def list_since(self, tenant_id: str, since: datetime | None) -> list[ConsentRecord]:
        return [r for r in self._for(tenant_id) if since is None or r.created_at >= since]


class _PriceBooks(_Table):
    def _versions(self, tenant_id: str) -> list[PriceBookVersion]:
        return sorted(self._where(lambda v: v.tenant_id == tenant_id), key=lambda v: v.version)

    def current(self, tenant_id: str) -> PriceBookVersion | None:
        versions = self._versions(tenant_id)
        return versions[-1] if versions else None

    def get_version(self, tenant_id: str, version: int) -> PriceBookVersion | None:
        return next((v for v in self._versions(tenant_id) if v.version == version), None)

    def list_versions(self, tenant_id: str) -> list[int]:
        return [v.version for v in self._versions(tenant_id)]

    def history(self, tenant_id: str) -> list[tuple[int, datetime]]:
        return [(v.version, v.created_at) for v in reversed(self._versions(tenant_id))]


class _Webhooks(_Table):
    def seen(self, provider: str, event_id: str) -> bool:
        return self._one(lambda w: w.provider == provider and w.event_id == event_id) is not None

    def add(self, record: ProcessedWebhook) -> None:
        super().add(record)


class _OwnerAlerts(_Table):
    def add_text(self, text: OwnerAlertText) -> None:
        _Table(self._uow, "owner_alert_texts").add(text)

    def _texts(self) -> list[OwnerAlertText]:
        return list(_Table(self._uow, "owner_alert_texts")._rows.values())

    def has_ref(self, tenant_id: str, ref: str) -> bool:
        return self._one(lambda a: a.tenant_id == tenant_id and a.ref == ref) is not None

    def pending(self, tenant_id: str) -> list[OwnerAlert]:
        found = self._where(lambda a: a.tenant_id == tenant_id and a.status == AlertStatus.PENDING)
        return sorted(found, key=lambda a: (a.occurred_at, a.id))

    def claim(self, tenant_id: str, alert_ids: Collection[str], text_id: str) -> bool:
        rows = self._rows
        found = [rows.get(i) for i in alert_ids]
        if any(a is None or a.tenant_id != tenant_id for a in found):
            return False
        if any(a.status != AlertStatus.PENDING for a in found if a is not None):
            return False
        for alert in found:
            assert alert is not None
            alert.status, alert.text_id = AlertStatus.SENDING, text_id
        return True

    def finish(self, tenant_id: str, text_id: str, status: str) -> None:
        for alert in self._where(lambda a: a.tenant_id == tenant_id and a.text_id == text_id):
            alert.status = AlertStatus(status)

    def get_text(self, tenant_id: str, text_id: str) -> OwnerAlertText | None:
        found = [t for t in self._texts() if t.id == text_id and t.tenant_id == tenant_id]
        return found[0] if found else None

    def texts_since(self, tenant_id: str, since: datetime) -> list[OwnerAlertText]:
        found = [t for t in self._texts() if t.tenant_id == tenant_id and t.created_at >= since]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    def last_alerted_lead(self, tenant_id: str, since: datetime) -> str | None:
        texts = [t for t in self._texts() if t.tenant_id == tenant_id and t.created_at >= since]
        for text in sorted(texts, key=lambda t: (t.created_at, t.id), reverse=True):
            if text.summary or not text.sent:
                continue
            carried = [a for a in self._rows.values() if a.text_id == text.id]
            if carried:
                return str(carried[0].lead_id)
        return None

    def tenants_waiting(self, occurred_before: datetime) -> list[str]:
        found = self._where(
            lambda a: a.status == AlertStatus.PENDING and a.occurred_at < occurred_before
        )
        return sorted({a.tenant_id for a in found})


class InMemoryUnitOfWork:
    """A UnitOfWork over an InMemoryDatabase with real transaction semantics: work is done
    on a private copy, published by commit() (which enforces uniqueness like the SQL schema)
    and dropped by rollback(). `committed` says whether commit() has been called. The
    tenant scope hides and refuses other tenants' rows as PostgreSQL's row-level security
    does, so a use case that forgets to scope fails on the fakes too."""

    def __init__(self, db: InMemoryDatabase | None = None) -> None:
        self.db = db or InMemoryDatabase()
        self.committed = False
        self.working: dict[str, dict[str, Any]] = {}
        self.scope: str | object | None = None  # a tenant id, ALL_TENANTS, or None
        self.tenants: TenantRepository = _Tenants(self, "tenants")
        self.users: UserRepository = _Users(self, "users")
        self.api_keys: ApiKeyRepository = _ApiKeys(self, "api_keys")
        self.leads: LeadRepository = _Leads(self, "leads")
        self.conversations: ConversationRepository = _Conversations(self, "conversations")
        self.messages: MessageRepository = _Messages(self, "messages")
        self.calls: CallRepository = _Calls(self, "calls")
        self.quotes: QuoteRepository = _Quotes(self, "quotes")
        self.bookings: BookingRepository = _Bookings(self, "bookings")
        self.subscriptions: SubscriptionRepository = _Subscriptions(self, "subscriptions")
        self.sms_usage: SmsUsageRepository = _SmsUsage(self, "sms_usage")
        self.consent: ConsentLedger = _ConsentLedger(self, "consent_ledger")
        self.pricebooks: PriceBookRepository = _PriceBooks(self, "pricebooks")
        self.webhooks: WebhookRepository = _Webhooks(self, "webhooks")
        self.owner_alerts: OwnerAlertRepository = _OwnerAlerts(self, "owner_alerts")

    def __enter__(self) -> Self:
        with self.db.lock:
            self.working = copy.deepcopy(self.db.tables)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.scope = None
        self.rollback()

    def for_tenant(self, tenant_id: str) -> Self:
        self.scope = tenant_id
        return self

    def across_tenants(self) -> Self:
        self.scope = ALL_TENANTS
        return self

    def commit(self) -> None:
        for table, keys in _UNIQUE.items():
            for attrs_ in keys:
                _check_unique(table, attrs_, self.working[table].values())
        with self.db.lock:
            self.db.tables = copy.deepcopy(self.working)
        self.committed = True

    def rollback(self) -> None:
        with self.db.lock:
            self.working = copy.deepcopy(self.db.tables)


def _check_unique(table: str, names: tuple[str, ...], rows: Iterable[Any]) -> None:
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        value = tuple(getattr(row, n) for n in names)
        if any(v is None for v in value):
            continue
        if value in seen:
            raise Conflict(f"{table}: {', '.join(names)} {value!r} already exists")
        seen.add(value)
