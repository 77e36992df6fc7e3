"""SQLAlchemy implementations of the repository ports. Each takes a zero-argument callable
returning the current Session (SqlUnitOfWork's), so one repository object serves every
`with uow:` block. Every lookup of a tenant-owned row filters on tenant_id."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from lily_adapters.sql import tables as t
from lily_adapters.sql.encrypted import email_bidx_is, phone_bidx_is, search_key_bidxs
from lily_core.domain.consent import ConsentRecord
from lily_core.domain.ids import new_id
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
from lily_core.ports import repositories as ports

E = TypeVar("E")
SessionGetter = Callable[[], orm.Session]


@contextmanager
def integrity_as_conflict(session: orm.Session) -> Iterator[None]:
    """Turn an IntegrityError (from a flush: commit or a query's autoflush) into Conflict,
    after rolling the session back so nothing of the transaction is written."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        discard(session)
        raise Conflict(str(exc.orig)) from exc


def discard(session: orm.Session) -> None:
    """Roll back, keeping the objects the caller holds readable: detach them first, since
    Session.rollback() expires whatever is still attached (and a detached, expired object
    raises on every read). The session stays usable for the rest of the block."""
    session.expunge_all()
    session.rollback()


class _SqlRepository(Generic[E]):
    table: sa.Table

    def __init__(self, session: SessionGetter) -> None:
        self._session = session

    def add(self, entity: E) -> None:
        session = self._session()
        state = sa.inspect(entity)
        if state.session is session:
            return
        key = state.key
        if key is not None and session.identity_map.get(key) not in (None, entity):
            # A copy from an earlier block while this one already holds the row: the fake's
            # add() replaces the row, so copy this one's state over the loaded one.
            session.merge(entity)
        else:
            session.add(entity)

    def _scalars(self, stmt: sa.Select[Any]) -> builtins.list[Any]:
        session = self._session()
        with integrity_as_conflict(session):
            return builtins.list(session.scalars(stmt))

    def _one(self, stmt: sa.Select[E]) -> E | None:
        found = self._scalars(stmt.limit(1))
        return found[0] if found else None

    def _all(self, stmt: sa.Select[E]) -> builtins.list[E]:
        return self._scalars(stmt)

    def _newest_first(self, stmt: sa.Select[E], limit: int, after: Cursor | None) -> Page[E]:
        """Order by (created_at, id) descending, like the fake's `_page`; the cursor is the
        last item's (created_at, id). Fetch one extra row to know whether more follow."""
        created, ident = self.table.c.created_at, self._ordered_id()
        if after is not None:
            stmt = stmt.where(
                sa.or_(
                    created < after.created_at,
                    sa.and_(created == after.created_at, ident < after.id),
                )
            )
        rows = self._all(stmt.order_by(created.desc(), ident.desc()).limit(limit + 1))
        page = rows[:limit]
        more = len(rows) > limit
        last: Any = page[-1] if page else None
        cursor = Cursor(last.created_at, last.id).encode() if more and last else None
        return Page(page, cursor)

    def _ordered_id(self) -> sa.ColumnElement[str]:
        # The fake orders ids as Python strings (code points); PostgreSQL orders text by
        # the database collation unless told otherwise, so ask for bytewise "C" there.
        column = self.table.c.id
        if self._session().get_bind().dialect.name == "postgresql":
            return column.collate("C")
        return column

    def _get(self, cls: type[E], tenant_id: str, entity_id: str) -> E | None:
        session = self._session()
        with integrity_as_conflict(session):
            found = session.get(cls, entity_id)
        return found if found is not None and found.tenant_id == tenant_id else None  # type: ignore[attr-defined]


class SqlTenantRepository(_SqlRepository[Tenant], ports.TenantRepository):
    table = t.tenants

    def get(self, tenant_id: str) -> Tenant | None:
        session = self._session()
        with integrity_as_conflict(session):
            return session.get(Tenant, tenant_id)

    def get_by_slug(self, slug: str) -> Tenant | None:
        return self._one(sa.select(Tenant).where(t.tenants.c.slug == slug))

    def get_by_phone(self, phone: str) -> Tenant | None:
        return self._one(sa.select(Tenant).where(t.tenants.c.phone == phone))

    def list(self) -> builtins.list[Tenant]:
        return self._all(sa.select(Tenant).order_by(t.tenants.c.slug))


class SqlUserRepository(_SqlRepository[User], ports.UserRepository):
    table = t.users

    def get(self, tenant_id: str, user_id: str) -> User | None:
        return self._get(User, tenant_id, user_id)

    def get_by_email(self, email: str) -> User | None:
        # Emails are stored lower-cased by the use cases; the fake compares the same way.
        return self._one(sa.select(User).where(t.users.c.email == email.lower()))


class SqlApiKeyRepository(_SqlRepository[ApiKey], ports.ApiKeyRepository):
    table = t.api_keys

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return self._one(sa.select(ApiKey).where(t.api_keys.c.key_hash == key_hash))

    def list(self, tenant_id: str) -> builtins.list[ApiKey]:
        c = t.api_keys.c
        return self._all(
            sa.select(ApiKey).where(c.tenant_id == tenant_id).order_by(c.created_at, c.id)
        )


class SqlLeadRepository(_SqlRepository[Lead], ports.LeadRepository):
    table = t.leads

    def get(self, tenant_id: str, lead_id: str) -> Lead | None:
        return self._get(Lead, tenant_id, lead_id)

    def get_by_phone(self, tenant_id: str, phone: str) -> Lead | None:
        # one lookup of the unique (tenant_id, phone_bidx) index: the number is encrypted
        c = t.leads.c
        return self._one(
            sa.select(Lead).where(
                c.tenant_id == tenant_id, phone_bidx_is(c.phone_bidx, tenant_id, phone)
            )
        )

    def get_by_email(self, tenant_id: str, email: str) -> Lead | None:
        c = t.leads.c
        stmt = sa.select(Lead).where(
            c.tenant_id == tenant_id, email_bidx_is(c.email_bidx, tenant_id, email)
        )
        return self._one(stmt.order_by(c.created_at, c.id))

    def list(
        self,
        tenant_id: str,
        *,
        status: LeadStatus | None = None,
        search: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Lead]:
        c = t.leads.c
        stmt = sa.select(Lead).where(c.tenant_id == tenant_id)
        if status is not None:
            stmt = stmt.where(c.status == status)
        if not search:
            return self._newest_first(stmt, limit, after)
        # A substring of the name or number: both are encrypted, so the tenant's leads are
        # read a batch at a time, decrypted and matched here, until a page is full.
        needle = search.lower()

        def wanted(lead: Lead) -> bool:
            return needle in (lead.name or "").lower() or needle in (lead.phone or "")

        return _scan(
            lambda cursor: self._newest_first(stmt, _SCAN_BATCH, cursor),
            wanted,
            limit,
            after,
            lambda le: le.created_at,
        )

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
        """Two keyset queries, each an index range scan of ix_leads_tenant_activity (or
        ix_leads_tenant_status_activity with a status): the leads with activity, then --
        once those run out -- the ones without. One query ordered NULLS LAST could not
        walk PostgreSQL's ascending index backwards (that order has NULLS FIRST). The id
        is compared without the bytewise collation `_ordered_id` asks for, so the index
        keeps the order: ids are hex UUIDs, which every collation orders bytewise."""
        if search is not None and not search.keys_are_exact:
            # Names and emails are encrypted and matched by substring; a number's longer
            # starts and ends are not keys of their own. Read the tenant's leads in this
            # order (those with one of the search's keys, for digits) a batch at a time,
            # decrypted, and match them here until a page is full.
            wanted, keyed = search, (search if search.digits is not None else None)
            return _scan(
                lambda cursor: self._by_activity(
                    tenant_id, status, opted_out, keyed, limit=_SCAN_BATCH, after=cursor
                ),
                lambda lead: wanted.matches(lead.name, lead.email, lead.phone),
                limit,
                after,
                lambda lead: lead.last_activity_at,
            )
        return self._by_activity(tenant_id, status, opted_out, search, limit=limit, after=after)

    def _by_activity(
        self,
        tenant_id: str,
        status: LeadStatus | None,
        opted_out: bool | None,
        keyed: LeadSearch | None,
        *,
        limit: int,
        after: Cursor | None,
    ) -> Page[Lead]:
        """A page of list_by_activity: of the leads with one of `keyed`'s phone keys, if
        given."""
        c = t.leads.c
        stmt = sa.select(Lead).where(c.tenant_id == tenant_id)
        if status is not None:
            stmt = stmt.where(c.status == status)
        if opted_out is not None:
            stmt = stmt.where(c.opted_out.is_(opted_out))
        if keyed is not None:
            stmt = stmt.where(_phone_search(tenant_id, keyed))
        at = c.last_activity_at
        rows: builtins.list[Lead] = []
        if after is None or after.key is not None:
            active = stmt.where(at.is_not(None))
            if after is not None:
                active = active.where(sa.tuple_(at, c.id) < (after.key, after.id))
            rows = self._all(active.order_by(at.desc(), c.id.desc()).limit(limit + 1))
        if len(rows) <= limit:
            idle = stmt.where(at.is_(None))
            if after is not None and after.key is None:
                idle = idle.where(c.id < after.id)
            rows += self._all(idle.order_by(c.id.desc()).limit(limit + 1 - len(rows)))
        page, more = rows[:limit], len(rows) > limit
        cursor = Cursor(page[-1].last_activity_at, page[-1].id).encode() if more else None
        return Page(page, cursor)

    def locate(self, lead_id: str) -> Lead | None:
        session = self._session()
        with integrity_as_conflict(session):
            return session.get(Lead, lead_id)


_SCAN_BATCH = 200  # leads decrypted per query of a search matched here


def _scan(
    read: Callable[[Cursor | None], Page[Lead]],
    wanted: Callable[[Lead], bool],
    limit: int,
    after: Cursor | None,
    key: Callable[[Lead], datetime | None],
) -> Page[Lead]:
    """A page of the leads `wanted` keeps, in the order of `read`'s pages (cursor `after`),
    reading batch after batch until `limit` + 1 are found or none is left. The cursor is
    the last kept lead's, which `read` continues after."""
    found: list[Lead] = []
    cursor = after
    while len(found) <= limit:
        batch = read(cursor)
        found += filter(wanted, batch.items)
        if batch.next_cursor is None:
            break
        cursor = Cursor.decode(batch.next_cursor)
    page, more = found[:limit], len(found) > limit
    next_cursor = Cursor(key(page[-1]), page[-1].id).encode() if more else None
    return Page(page, next_cursor)


def _phone_search(tenant_id: str, search: LeadSearch) -> sa.ColumnElement[bool]:
    """A search by phone digits: the leads with one of the search's keys (how a number
    starts or ends, lily_core.domain.lead_search) among the blind indexes in
    lead_phone_keys, an equality lookup of its (tenant_id, key) index, which row-level
    security lets PostgreSQL use (= on text is LEAKPROOF)."""
    keys = t.lead_phone_keys.c
    wanted = [
        bidx for key in sorted(search.phone_keys) for bidx in search_key_bidxs(tenant_id, key)
    ]
    if not wanted:
        return sa.false()
    matching = sa.select(keys.lead_id).where(keys.tenant_id == tenant_id, keys.key.in_(wanted))
    return t.leads.c.id.in_(matching)


class SqlConversationRepository(_SqlRepository[Conversation], ports.ConversationRepository):
    table = t.conversations

    def get(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        return self._get(Conversation, tenant_id, conversation_id)

    def latest_for_lead(self, tenant_id: str, lead_id: str) -> Conversation | None:
        c = t.conversations.c
        stmt = sa.select(Conversation).where(c.tenant_id == tenant_id, c.lead_id == lead_id)
        return self._one(stmt.order_by(c.created_at.desc(), self._ordered_id().desc()))

    def get_by_chatwoot_id(self, tenant_id: str, chatwoot_id: int) -> Conversation | None:
        c = t.conversations.c
        stmt = sa.select(Conversation).where(
            c.tenant_id == tenant_id, c.chatwoot_conversation_id == chatwoot_id
        )
        return self._one(stmt.order_by(c.created_at, c.id))


class SqlMessageRepository(_SqlRepository[Message], ports.MessageRepository):
    table = t.messages

    def get(self, tenant_id: str, message_id: str) -> Message | None:
        return self._get(Message, tenant_id, message_id)

    def get_by_provider_sid(self, tenant_id: str, sid: str) -> Message | None:
        c = t.messages.c
        return self._one(sa.select(Message).where(c.tenant_id == tenant_id, c.provider_sid == sid))

    def list_for_lead(
        self,
        tenant_id: str,
        lead_id: str,
        *,
        limit: int = 50,
        after: Cursor | None = None,
        oldest_first: bool = False,
    ) -> Page[Message]:
        c = t.messages.c
        stmt = sa.select(Message).where(c.tenant_id == tenant_id, c.lead_id == lead_id)
        if not oldest_first:
            return self._newest_first(stmt, limit, after)
        # At one instant, what the lead sent comes before what answered it (an inbound HELP
        # and its reply are recorded together): the order is (created_at, direction, id),
        # and the direction of the cursor's message is read back.
        order = (c.created_at, c.direction, self._ordered_id())
        if after is not None:
            anchor = self.get(tenant_id, after.id)
            if anchor is None or anchor.lead_id != lead_id:
                raise InvalidInput("not a valid cursor", field="cursor")
            stmt = stmt.where(sa.tuple_(*order) > (anchor.created_at, anchor.direction, anchor.id))
        rows = self._all(stmt.order_by(*order).limit(limit + 1))
        page, more = rows[:limit], len(rows) > limit
        cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
        return Page(page, cursor)

    def list_queued(self, *, created_before: datetime, limit: int = 500) -> builtins.list[Message]:
        c = t.messages.c
        stmt = (
            sa.select(Message)
            .where(
                c.status == MessageStatus.QUEUED,
                c.created_at < created_before,
                c.direction == Direction.OUTBOUND,
            )
            .order_by(c.created_at, self._ordered_id())
            .limit(limit)
        )
        return self._all(stmt)

    def list_held(
        self,
        *,
        error_codes: Collection[str],
        created_after: datetime,
        tenant_id: str | None = None,
        limit: int = 500,
    ) -> builtins.list[Message]:
        # Served by the (status, created_at) index: held messages of the last day are few.
        c = t.messages.c
        stmt = sa.select(Message).where(
            c.status == MessageStatus.HELD,
            c.created_at > created_after,
            c.direction == Direction.OUTBOUND,
            c.error_code.in_(list(error_codes)),
        )
        if tenant_id is not None:
            stmt = stmt.where(c.tenant_id == tenant_id)
        return self._all(stmt.order_by(c.created_at, self._ordered_id()).limit(limit))

    # -- interrupted sends (issue 13); both served by the (status, created_at) index --
    def list_sending(self, *, updated_before: datetime, limit: int = 500) -> builtins.list[Message]:
        c = t.messages.c
        stmt = sa.select(Message).where(
            c.status == MessageStatus.SENDING,
            c.updated_at < updated_before,
            c.direction == Direction.OUTBOUND,
        )
        return self._all(stmt.order_by(c.updated_at, self._ordered_id()).limit(limit))

    def list_received(
        self, *, created_after: datetime, created_before: datetime, limit: int = 1000
    ) -> builtins.list[Message]:
        c = t.messages.c  # served by the (status, created_at) index
        stmt = sa.select(Message).where(
            c.status == MessageStatus.RECEIVED,
            c.created_at >= created_after,
            c.created_at < created_before,
            c.direction == Direction.INBOUND,
        )
        return self._all(stmt.order_by(c.created_at.desc(), self._ordered_id().desc()).limit(limit))

    def count_failed(self, error_code: str) -> int:
        c = t.messages.c
        stmt = sa.select(sa.func.count()).where(
            c.status == MessageStatus.FAILED,
            c.error_code == error_code,
            c.direction == Direction.OUTBOUND,
        )
        return int(self._scalars(stmt)[0])


class SqlCallRepository(_SqlRepository[Call], ports.CallRepository):
    table = t.calls

    def get_by_sid(self, tenant_id: str, call_sid: str) -> Call | None:
        c = t.calls.c
        return self._one(sa.select(Call).where(c.tenant_id == tenant_id, c.call_sid == call_sid))

    def last_texted_back(self, tenant_id: str, lead_id: str) -> Call | None:
        c = t.calls.c
        stmt = sa.select(Call).where(
            c.tenant_id == tenant_id, c.lead_id == lead_id, c.texted_back.is_(True)
        )
        return self._one(stmt.order_by(c.created_at.desc(), self._ordered_id().desc()))


class SqlQuoteRepository(_SqlRepository[Quote], ports.QuoteRepository):
    table = t.quotes

    def get(self, tenant_id: str, quote_id: str) -> Quote | None:
        return self._get(Quote, tenant_id, quote_id)

    def latest_for_lead(self, tenant_id: str, lead_id: str) -> Quote | None:
        c = t.quotes.c
        stmt = sa.select(Quote).where(c.tenant_id == tenant_id, c.lead_id == lead_id)
        return self._one(stmt.order_by(c.created_at.desc(), self._ordered_id().desc()))

    def list(
        self,
        tenant_id: str,
        *,
        lead_id: str | None = None,
        limit: int = 50,
        after: Cursor | None = None,
    ) -> Page[Quote]:
        c = t.quotes.c
        stmt = sa.select(Quote).where(c.tenant_id == tenant_id)
        if lead_id is not None:
            stmt = stmt.where(c.lead_id == lead_id)
        return self._newest_first(stmt, limit, after)


class SqlBookingRepository(_SqlRepository[Booking], ports.BookingRepository):
    table = t.bookings

    def get(self, tenant_id: str, booking_id: str) -> Booking | None:
        return self._get(Booking, tenant_id, booking_id)

    def get_by_uid(self, tenant_id: str, calcom_uid: str) -> Booking | None:
        c = t.bookings.c
        return self._one(
            sa.select(Booking).where(c.tenant_id == tenant_id, c.calcom_uid == calcom_uid)
        )

    def list(
        self, tenant_id: str, *, limit: int = 50, after: Cursor | None = None
    ) -> Page[Booking]:
        stmt = sa.select(Booking).where(t.bookings.c.tenant_id == tenant_id)
        return self._newest_first(stmt, limit, after)

    def list_calendar_behind(
        self, *, updated_after: datetime, updated_before: datetime, limit: int = 500
    ) -> builtins.list[Booking]:
        c = t.bookings.c  # served by ix_bookings_updated
        stmt = sa.select(Booking).where(
            c.updated_at >= updated_after,
            c.updated_at < updated_before,
            sa.or_(c.calendar_synced_at.is_(None), c.calendar_synced_at < c.updated_at),
        )
        return self._all(stmt.order_by(c.updated_at, self._ordered_id()).limit(limit))

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
        # Served by ix_bookings_tenant_start (tenant_id, start_at, id); a lead's (few) by
        # ix_bookings_tenant_lead (tenant_id, lead_id, status).
        c, ident = t.bookings.c, self._ordered_id()
        stmt = sa.select(Booking).where(c.tenant_id == tenant_id)
        if status is not None:
            stmt = stmt.where(c.status == status)
        if lead_id is not None:
            stmt = stmt.where(c.lead_id == lead_id)
        if start_from is not None:
            stmt = stmt.where(c.start_at >= start_from)
        if start_before is not None:
            stmt = stmt.where(c.start_at < start_before)
        if after is not None:
            stmt = stmt.where(
                sa.or_(
                    c.start_at > after.created_at,
                    sa.and_(c.start_at == after.created_at, ident > after.id),
                )
            )
        rows = self._all(stmt.order_by(c.start_at, ident).limit(limit + 1))
        page = rows[:limit]
        more = len(rows) > limit
        cursor = Cursor(page[-1].start_at, page[-1].id).encode() if more and page else None
        return Page(page, cursor)


class SqlSubscriptionRepository(_SqlRepository[Subscription], ports.SubscriptionRepository):
    table = t.subscriptions

    def get(self, tenant_id: str) -> Subscription | None:
        return self._one(sa.select(Subscription).where(t.subscriptions.c.tenant_id == tenant_id))

    def get_by_customer(self, stripe_customer_id: str) -> Subscription | None:
        c = t.subscriptions.c
        stmt = sa.select(Subscription).where(c.stripe_customer_id == stripe_customer_id)
        return self._one(stmt.order_by(c.updated_at.desc(), c.id))


class SqlSmsUsageRepository(ports.SmsUsageRepository):
    """Counts kept by single UPDATE statements on the (tenant, period) row, inserted first
    if missing (INSERT ... ON CONFLICT DO NOTHING on both backends). The conditional
    `automated = automated + 1 WHERE automated < :limit` is atomic: on PostgreSQL a second
    writer waits for the first's row lock and re-checks the condition against its commit;
    SQLite serialises writers (BEGIN IMMEDIATE). So concurrent senders never pass a limit."""

    def __init__(self, session: SessionGetter) -> None:
        self._session = session

    def _ensure_row(self, tenant_id: str, period: str) -> None:
        session = self._session()
        values = {"id": new_id(), "tenant_id": tenant_id, "period": period}
        insert = _insert_for(session)(t.sms_usage).values(**values, automated=0, manual=0)
        session.execute(insert.on_conflict_do_nothing(index_elements=["tenant_id", "period"]))

    def _where(self, tenant_id: str, period: str) -> sa.ColumnElement[bool]:
        c = t.sms_usage.c
        return sa.and_(c.tenant_id == tenant_id, c.period == period)

    def reserve(self, tenant_id: str, period: str, limit: int | None) -> bool:
        self._ensure_row(tenant_id, period)
        c = t.sms_usage.c
        stmt = (
            sa.update(t.sms_usage)
            .where(self._where(tenant_id, period))
            .values(automated=c.automated + 1)
        )
        if limit is not None:
            stmt = stmt.where(c.automated < limit)
        result = self._session().execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def count_manual(self, tenant_id: str, period: str) -> None:
        self._ensure_row(tenant_id, period)
        c = t.sms_usage.c
        self._session().execute(
            sa.update(t.sms_usage).where(self._where(tenant_id, period)).values(manual=c.manual + 1)
        )

    def refund(self, tenant_id: str, period: str, *, manual: bool = False) -> None:
        column = t.sms_usage.c.manual if manual else t.sms_usage.c.automated
        self._session().execute(
            sa.update(t.sms_usage)
            .where(self._where(tenant_id, period), column > 0)
            .values({column.name: column - 1})
        )

    def get(self, tenant_id: str, period: str) -> SmsUsage:
        c = t.sms_usage.c
        row = (
            self._session()
            .execute(sa.select(c.id, c.automated, c.manual).where(self._where(tenant_id, period)))
            .first()
        )
        if row is None:
            return SmsUsage(tenant_id=tenant_id, period=period)
        return SmsUsage(
            id=row.id,
            tenant_id=tenant_id,
            period=period,
            automated=row.automated,
            manual=row.manual,
        )


def _insert_for(session: orm.Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT DO NOTHING on PostgreSQL and SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


class SqlPriceBookRepository(_SqlRepository[PriceBookVersion], ports.PriceBookRepository):
    table = t.pricebooks

    def current(self, tenant_id: str) -> PriceBookVersion | None:
        c = t.pricebooks.c
        stmt = sa.select(PriceBookVersion).where(c.tenant_id == tenant_id)
        return self._one(stmt.order_by(c.version.desc()))

    def get_version(self, tenant_id: str, version: int) -> PriceBookVersion | None:
        c = t.pricebooks.c
        return self._one(
            sa.select(PriceBookVersion).where(c.tenant_id == tenant_id, c.version == version)
        )

    def list_versions(self, tenant_id: str) -> builtins.list[int]:
        c = t.pricebooks.c
        stmt = sa.select(c.version).where(c.tenant_id == tenant_id).order_by(c.version)
        return self._scalars(stmt)

    def history(self, tenant_id: str) -> builtins.list[tuple[int, datetime]]:
        c = t.pricebooks.c
        stmt = sa.select(c.version, c.created_at).where(c.tenant_id == tenant_id)
        session = self._session()
        with integrity_as_conflict(session):
            rows = session.execute(stmt.order_by(c.version.desc())).all()
        return [(version, created_at) for version, created_at in rows]


class SqlConsentLedger(_SqlRepository[ConsentRecord], ports.ConsentLedger):
    table = t.consent_ledger

    def _ordered(self, tenant_id: str) -> sa.Select[ConsentRecord]:
        c = t.consent_ledger.c
        stmt = sa.select(ConsentRecord).where(c.tenant_id == tenant_id)
        return stmt.order_by(c.created_at, self._ordered_id())

    def latest_for_phone(self, tenant_id: str, phone: str) -> ConsentRecord | None:
        c = t.consent_ledger.c
        stmt = sa.select(ConsentRecord).where(
            c.tenant_id == tenant_id, phone_bidx_is(c.phone_bidx, tenant_id, phone)
        )
        return self._one(stmt.order_by(c.created_at.desc(), self._ordered_id().desc()).limit(1))

    def list_since(self, tenant_id: str, since: datetime | None) -> list[ConsentRecord]:
        stmt = self._ordered(tenant_id)
        if since is not None:
            stmt = stmt.where(t.consent_ledger.c.created_at >= since)
        return self._all(stmt)


class SqlWebhookRepository(_SqlRepository[ProcessedWebhook], ports.WebhookRepository):
    table = t.webhooks

    def seen(self, provider: str, event_id: str) -> bool:
        c = t.webhooks.c
        stmt = sa.select(c.id).where(c.provider == provider, c.event_id == event_id).limit(1)
        return bool(self._scalars(stmt))


class SqlOwnerAlertRepository(_SqlRepository[OwnerAlert], ports.OwnerAlertRepository):
    table = t.owner_alerts

    def add_text(self, text: OwnerAlertText) -> None:
        self._session().add(text)

    def has_ref(self, tenant_id: str, ref: str) -> bool:
        c = t.owner_alerts.c
        stmt = sa.select(c.id).where(c.tenant_id == tenant_id, c.ref == ref).limit(1)
        return bool(self._scalars(stmt))

    def pending(self, tenant_id: str) -> builtins.list[OwnerAlert]:
        c = t.owner_alerts.c
        stmt = sa.select(OwnerAlert).where(
            c.tenant_id == tenant_id, c.status == AlertStatus.PENDING
        )
        return self._all(stmt.order_by(c.occurred_at, self._ordered_id()))

    def claim(self, tenant_id: str, alert_ids: Collection[str], text_id: str) -> bool:
        # One conditional UPDATE: a concurrent claim of the same rows waits for this
        # transaction (row locks; SQLite's single writer) and then matches none of them.
        ids = builtins.list(alert_ids)
        c = t.owner_alerts.c
        stmt = (
            sa.update(t.owner_alerts)
            .where(c.tenant_id == tenant_id, c.id.in_(ids), c.status == AlertStatus.PENDING)
            .values(status=AlertStatus.SENDING, text_id=text_id)
            .execution_options(synchronize_session=False)
        )
        session = self._session()
        with integrity_as_conflict(session):
            claimed = session.execute(stmt).rowcount  # type: ignore[attr-defined]
        return bool(claimed == len(ids))

    def finish(self, tenant_id: str, text_id: str, status: str) -> None:
        c = t.owner_alerts.c
        stmt = (
            sa.update(t.owner_alerts)
            .where(c.tenant_id == tenant_id, c.text_id == text_id)
            .values(status=AlertStatus(status))
            .execution_options(synchronize_session=False)
        )
        session = self._session()
        with integrity_as_conflict(session):
            session.execute(stmt)

    def get_text(self, tenant_id: str, text_id: str) -> OwnerAlertText | None:
        session = self._session()
        with integrity_as_conflict(session):
            found = session.get(OwnerAlertText, text_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def texts_since(self, tenant_id: str, since: datetime) -> builtins.list[OwnerAlertText]:
        c = t.owner_alert_texts.c
        stmt = (
            sa.select(OwnerAlertText)
            .where(c.tenant_id == tenant_id, c.created_at >= since)
            .order_by(c.created_at, c.id)
        )
        return self._scalars(stmt)

    def tenants_waiting(self, occurred_before: datetime) -> builtins.list[str]:
        c = t.owner_alerts.c
        stmt = (
            sa.select(c.tenant_id)
            .where(c.status == AlertStatus.PENDING, c.occurred_at < occurred_before)
            .distinct()
        )
        return sorted(self._scalars(stmt))

    def last_alerted_lead(self, tenant_id: str, since: datetime) -> str | None:
        a, x = t.owner_alerts.c, t.owner_alert_texts.c
        stmt = (
            sa.select(a.lead_id)
            .join(t.owner_alert_texts, x.id == a.text_id)
            .where(
                x.tenant_id == tenant_id,
                a.tenant_id == tenant_id,
                x.created_at >= since,
                x.summary.is_(False),
                x.sent > 0,
            )
            .order_by(x.created_at.desc(), x.id.desc())
            .limit(1)
        )
        found = self._scalars(stmt)
        return str(found[0]) if found else None
