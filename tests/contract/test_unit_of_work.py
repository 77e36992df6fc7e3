"""The UnitOfWork contract: one suite run against the in-memory fake, SQLite and PostgreSQL
(schema built by the Alembic migrations), so the fake and the SQL adapter stay in step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

import attrs
import pytest
import sqlalchemy as sa

from lily_adapters.sql import migrate
from lily_adapters.sql.mapping import start_mappers
from lily_adapters.sql.uow import (
    SqlUnitOfWork,
    create_engine_for,
    make_session_factory,
)
from lily_core.domain.ids import new_id
from lily_core.domain.leads import (
    Call,
    Channel,
    Conversation,
    Direction,
    Lead,
    LeadStatus,
    Message,
    MessageKind,
    MessageStatus,
)
from lily_core.domain.pagination import Cursor, Page
from lily_core.domain.pricebook import PriceBookVersion
from lily_core.domain.records import (
    ApiKey,
    Booking,
    BookingStatus,
    ProcessedWebhook,
    Quote,
    Subscription,
    User,
)
from lily_core.domain.tenant import QuietHours, Tenant
from lily_core.errors import Conflict
from lily_core.ports.repositories import UnitOfWork
from lily_core.testing import InMemoryDatabase, InMemoryUnitOfWork
from tests.contract.dashboard_backends import clear_tables, migrated_schema

# --- entities with every field set to a non-default value --------------------------------

T0 = datetime(2024, 5, 17, 14, 30, 15, 123456, tzinfo=UTC)
_counter = iter(range(10**9))


def unique_digits(n: int = 7) -> str:
    return f"{next(_counter):0{n}d}"


def tenant(**kw: Any) -> Tenant:
    n = unique_digits()
    fields: dict[str, Any] = dict(
        name=f"Acme Wash {n}",
        slug=f"acme-{n}",
        phone=f"+1214{n}",
        timezone="America/New_York",
        forward_to="+12145559999",
        zip="75201",
        booking_url="https://cal.com/acme/estimate",
        review_url="https://g.page/acme/review",
        quiet_hours_start=time(22, 15),
        quiet_hours_end=time(7, 45),
        strict_quiet_hours=True,
        missed_call_template="Hi from {business}!",
        missed_call_dedupe_minutes=30,
        conversational_window_minutes=20,
        review_delay_hours=48,
        review_cooldown_days=30,
        google_calendar_id="cal@example.com",
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="tok",
        chatwoot_account_id=7,
        chatwoot_inbox_id=9,
        chatwoot_secret="cw-secret",
        automations_paused=True,
        created_at=T0,
    )
    fields.update(kw)
    return Tenant(**fields)


def lead(t: Tenant, **kw: Any) -> Lead:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        phone=f"+1972{unique_digits()}",
        name="Jane Doe",
        email="Jane@Example.com",
        zip="75202",
        status=LeadStatus.QUOTED,
        opted_out=True,
        opted_out_at=T0 + timedelta(hours=1),
        last_review_request_at=T0 + timedelta(hours=2),
        created_at=T0,
        first_contact_at=T0 + timedelta(seconds=30),
    )
    fields.update(kw)
    return Lead(**fields)


def conversation(t: Tenant, le: Lead, **kw: Any) -> Conversation:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        lead_id=le.id,
        channel=Channel.CHATWOOT,
        chatwoot_conversation_id=4242,
        zip="75203",
        photo_count=3,
        service_text="house and driveway",
        quoted_photo_count=2,
        quoted_zip="75203",
        last_prompt="zip",
        last_customer_activity_at=T0 + timedelta(minutes=5),
        created_at=T0,
        updated_at=T0 + timedelta(minutes=6),
    )
    fields.update(kw)
    return Conversation(**fields)


def message(t: Tenant, le: Lead, **kw: Any) -> Message:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        lead_id=le.id,
        conversation_id=None,
        direction=Direction.OUTBOUND,
        kind=MessageKind.QUOTE,
        body="Your quote: $270–$590 ✨",
        media=[{"url": "https://api.twilio.com/m/1", "content_type": "image/jpeg", "n": 1}],
        status=MessageStatus.DELIVERED,
        business_initiated=True,
        provider_sid="SM" + new_id(),
        error_code="30003",
        error_message="Unreachable",
        send_after=T0 + timedelta(minutes=1),
        created_at=T0,
        updated_at=T0 + timedelta(minutes=2),
        sent_at=T0 + timedelta(minutes=1, seconds=5),
    )
    fields.update(kw)
    return Message(**fields)


def call(t: Tenant, le: Lead, **kw: Any) -> Call:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        lead_id=le.id,
        call_sid="CA" + new_id(),
        from_phone=le.phone,
        status="no-answer",
        missed=True,
        texted_back=True,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=40),
    )
    fields.update(kw)
    return Call(**fields)


def quote(t: Tenant, le: Lead, **kw: Any) -> Quote:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        lead_id=le.id,
        zip="75204",
        in_service_area=True,
        low_cents=27000,
        high_cents=59000,
        currency="USD",
        lines=[{"key": "house_wash", "low_cents": 25000, "nested": {"a": [1, 2]}}],
        explanation="House wash 250-450",
        pricebook_version=3,
        created_at=T0,
    )
    fields.update(kw)
    return Quote(**fields)


def booking(t: Tenant, le: Lead, **kw: Any) -> Booking:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        lead_id=le.id,
        calcom_uid="uid-" + new_id(),
        status=BookingStatus.RESCHEDULED,
        title="Estimate",
        start_at=T0 + timedelta(days=2),
        end_at=T0 + timedelta(days=2, hours=1),
        address="1 Main St",
        attendee_name="Jane",
        attendee_email="jane@example.com",
        attendee_phone=le.phone,
        calendar_event_id="evt1",
        created_at=T0,
        updated_at=T0 + timedelta(hours=3),
    )
    fields.update(kw)
    return Booking(**fields)


def user(t: Tenant, **kw: Any) -> User:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        email=f"owner{unique_digits()}@example.com",
        password_hash="argon2$hash",
        role="admin",
        created_at=T0,
    )
    fields.update(kw)
    return User(**fields)


def api_key(t: Tenant, **kw: Any) -> ApiKey:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        name="ci",
        prefix="lily_ab",
        key_hash=new_id() + new_id(),
        created_at=T0,
        revoked_at=T0 + timedelta(days=1),
    )
    fields.update(kw)
    return ApiKey(**fields)


def subscription(t: Tenant, **kw: Any) -> Subscription:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        plan="pro",
        status="past_due",
        stripe_customer_id="cus_" + new_id(),
        stripe_subscription_id="sub_" + new_id(),
        current_period_end=T0 + timedelta(days=30),
        past_due_since=T0 + timedelta(days=1),
        updated_at=T0,
    )
    fields.update(kw)
    return Subscription(**fields)


def pricebook(t: Tenant, version: int = 1, **kw: Any) -> PriceBookVersion:
    fields: dict[str, Any] = dict(
        tenant_id=t.id,
        version=version,
        document={"currency": "USD", "services": [{"key": "house_wash", "low": 250}]},
        created_at=T0,
    )
    fields.update(kw)
    return PriceBookVersion(**fields)


def webhook(t: Tenant | None = None, **kw: Any) -> ProcessedWebhook:
    fields: dict[str, Any] = dict(
        provider="stripe",
        event_id="evt_" + new_id(),
        tenant_id=t.id if t else None,
        received_at=T0,
    )
    fields.update(kw)
    return ProcessedWebhook(**fields)


def fields_of(entity: Any) -> dict[str, Any]:
    return attrs.asdict(entity, recurse=False)


# --- the units of work under test -----------------------------------------------------------

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('uow') / 'lily.db'}"
    migrate.upgrade(url)
    engine = create_engine_for(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[sa.Engine]:
    yield from migrated_schema(postgres_url, "lily_sql_uow_contract")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_uow(request: pytest.FixtureRequest) -> UowFactory:
    """Makes units of work over one database, empty at the start of the test."""
    start_mappers()  # the fake must keep working on mapped (instrumented) classes too
    if request.param == "memory":
        db = InMemoryDatabase()
        # cast: the fake's repositories are untyped (Any), which mypy will not match
        return lambda: cast(UnitOfWork, InMemoryUnitOfWork(db))
    engine: sa.Engine = request.getfixturevalue(f"{request.param}_engine")
    clear_tables(engine)
    factory = make_session_factory(engine)
    return lambda: SqlUnitOfWork(factory)


@pytest.fixture
def uow(make_uow: UowFactory) -> UnitOfWork:
    return make_uow()


def _save(uow: UnitOfWork, *entities: Any) -> None:
    repos: dict[type, Any] = {
        Tenant: uow.tenants,
        User: uow.users,
        ApiKey: uow.api_keys,
        Lead: uow.leads,
        Conversation: uow.conversations,
        Message: uow.messages,
        Call: uow.calls,
        Quote: uow.quotes,
        Booking: uow.bookings,
        Subscription: uow.subscriptions,
        PriceBookVersion: uow.pricebooks,
        ProcessedWebhook: uow.webhooks,
    }
    with uow.across_tenants():
        for entity in entities:
            repos[type(entity)].add(entity)
        uow.commit()


def _ids(items: Iterable[Any]) -> list[str]:
    return [item.id for item in items]


# --- round trips ----------------------------------------------------------------------------

Fetch = Callable[[UnitOfWork, Any], Any]
ROUND_TRIPS: dict[str, tuple[Callable[[Tenant, Lead], Any], Fetch]] = {
    "tenant": (lambda t, le: t, lambda u, e: u.tenants.get(e.id)),
    "user": (lambda t, le: user(t), lambda u, e: u.users.get(e.tenant_id, e.id)),
    "api_key": (lambda t, le: api_key(t), lambda u, e: u.api_keys.get_by_hash(e.key_hash)),
    "lead": (lambda t, le: le, lambda u, e: u.leads.get(e.tenant_id, e.id)),
    "conversation": (
        lambda t, le: conversation(t, le),
        lambda u, e: u.conversations.get(e.tenant_id, e.id),
    ),
    "message": (lambda t, le: message(t, le), lambda u, e: u.messages.get(e.tenant_id, e.id)),
    "call": (lambda t, le: call(t, le), lambda u, e: u.calls.get_by_sid(e.tenant_id, e.call_sid)),
    "quote": (lambda t, le: quote(t, le), lambda u, e: u.quotes.get(e.tenant_id, e.id)),
    "booking": (lambda t, le: booking(t, le), lambda u, e: u.bookings.get(e.tenant_id, e.id)),
    "subscription": (lambda t, le: subscription(t), lambda u, e: u.subscriptions.get(e.tenant_id)),
    "pricebook": (
        lambda t, le: pricebook(t),
        lambda u, e: u.pricebooks.get_version(e.tenant_id, e.version),
    ),
}


@pytest.mark.parametrize("kind", sorted(ROUND_TRIPS))
def test_every_field_round_trips(make_uow: UowFactory, kind: str) -> None:
    build, fetch = ROUND_TRIPS[kind]
    t = tenant()
    le = lead(t)
    entity = build(t, le)
    expected = fields_of(entity)
    _save(make_uow(), *{id(x): x for x in (t, le, entity)}.values())

    reader = make_uow()
    with reader.across_tenants():
        loaded = fetch(reader, entity)
    # read after the block has ended: entities stay usable
    assert loaded is not None
    assert fields_of(loaded) == expected
    for name, value in fields_of(loaded).items():
        assert type(value) is type(expected[name]), name  # enums come back as enums
        if isinstance(value, datetime):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0), name


def test_defaults_of_a_minimal_entity_round_trip(make_uow: UowFactory) -> None:
    t = Tenant(name="Min", slug="min", phone="+12145550000", created_at=T0)
    le = Lead(tenant_id=t.id, created_at=T0)
    _save(make_uow(), t, le)
    with make_uow().across_tenants() as reader:
        loaded_t = reader.tenants.get(t.id)
        loaded_lead = reader.leads.get(t.id, le.id)
    assert loaded_t is not None and fields_of(loaded_t) == fields_of(t)
    assert loaded_t.quiet_hours == QuietHours(time(21, 0), time(8, 0))
    assert loaded_lead is not None and fields_of(loaded_lead) == fields_of(le)
    assert loaded_lead.status is LeadStatus.NEW


def test_webhook_is_seen_once_added(uow: UnitOfWork) -> None:
    t = tenant()
    hook = webhook(t)
    with uow.across_tenants():
        assert not uow.webhooks.seen("stripe", hook.event_id)
    _save(uow, t, hook, webhook(provider="calcom", event_id="shared-id"))
    with uow.across_tenants():
        assert uow.webhooks.seen("stripe", hook.event_id)
        assert uow.webhooks.seen("calcom", "shared-id")
        assert not uow.webhooks.seen("stripe", "shared-id")


# --- changes, commits and rollbacks ---------------------------------------------------------


def test_changes_to_a_loaded_entity_are_saved_by_commit(uow: UnitOfWork) -> None:
    t = tenant()
    le = lead(t, status=LeadStatus.NEW)
    m = message(t, le)
    q = quote(t, le)
    pb = pricebook(t)
    _save(uow, t, le, m, q, pb)
    with uow.across_tenants():
        loaded = uow.leads.get(t.id, le.id)
        assert loaded is not None
        loaded.status = LeadStatus.BOOKED
        loaded.name = "Renamed"
        msg = uow.messages.get(t.id, m.id)
        assert msg is not None
        msg.media[0]["stored_key"] = "tenant/photo.jpg"  # nested, in place
        msg.media.append({"url": "u2"})
        quo = uow.quotes.get(t.id, q.id)
        assert quo is not None
        quo.lines = [*quo.lines, {"key": "driveway"}]  # replaced
        ver = uow.pricebooks.current(t.id)
        assert ver is not None
        ver.document["currency"] = "CAD"
        uow.commit()
    with uow.across_tenants():
        again = uow.leads.get(t.id, le.id)
        msg = uow.messages.get(t.id, m.id)
        quo = uow.quotes.get(t.id, q.id)
        ver = uow.pricebooks.current(t.id)
    assert again is not None and (again.status, again.name) == (LeadStatus.BOOKED, "Renamed")
    assert msg is not None and msg.media[0]["stored_key"] == "tenant/photo.jpg"
    assert msg.media[1] == {"url": "u2"}
    assert quo is not None and [line["key"] for line in quo.lines] == ["house_wash", "driveway"]
    assert ver is not None and ver.document["currency"] == "CAD"


def test_an_in_place_change_to_json_alone_is_saved(uow: UnitOfWork) -> None:
    t = tenant()
    le = lead(t)
    m = message(t, le)
    _save(uow, t, le, m)
    with uow.across_tenants():
        loaded = uow.messages.get(t.id, m.id)
        assert loaded is not None
        loaded.media[0]["stored_key"] = "k1"  # the only change in this transaction
        uow.commit()
    with uow.across_tenants():
        again = uow.messages.get(t.id, m.id)
        assert again is not None and again.media[0]["stored_key"] == "k1"


def test_leaving_the_block_without_commit_rolls_back(uow: UnitOfWork) -> None:
    t = tenant()
    le = lead(t, name="Before")
    _save(uow, t)
    with uow.across_tenants():
        uow.leads.add(le)
    with uow.across_tenants():
        assert uow.leads.get(t.id, le.id) is None
    _save(uow, le)
    with uow.across_tenants():
        loaded = uow.leads.get(t.id, le.id)
        assert loaded is not None
        loaded.name = "After"
    with uow.across_tenants():
        reloaded = uow.leads.get(t.id, le.id)
        assert reloaded is not None and reloaded.name == "Before"


def test_an_exception_in_the_block_rolls_back(uow: UnitOfWork) -> None:
    t = tenant()
    with pytest.raises(RuntimeError), uow:
        uow.tenants.add(t)
        raise RuntimeError("boom")
    with uow.across_tenants():
        assert uow.tenants.get(t.id) is None


def test_rollback_drops_uncommitted_work_and_commit_keeps_the_rest(uow: UnitOfWork) -> None:
    first, second, third = tenant(), tenant(), tenant()
    with uow.across_tenants():
        uow.tenants.add(first)
        uow.commit()
        uow.tenants.add(second)
        uow.rollback()
        uow.tenants.add(third)
    with uow.across_tenants():
        assert uow.tenants.get(first.id) is not None
        assert uow.tenants.get(second.id) is None
        assert uow.tenants.get(third.id) is None


def test_one_uow_serves_blocks_one_after_another(make_uow: UowFactory) -> None:
    uow = make_uow()
    tenants = [tenant() for _ in range(3)]
    for t in tenants:
        with uow.across_tenants():
            uow.tenants.add(t)
            uow.commit()
    with uow.across_tenants():
        assert {x.id for x in uow.tenants.list()} == {t.id for t in tenants}


def test_an_entity_from_an_earlier_block_can_be_added_back(make_uow: UowFactory) -> None:
    uow = make_uow()
    t = tenant()
    _save(uow, t)
    with uow.across_tenants():
        loaded = uow.tenants.get(t.id)
    assert loaded is not None
    loaded.name = "Changed while detached"
    with uow.across_tenants():
        uow.tenants.get(t.id)  # the row is loaded in this block too
        uow.tenants.add(loaded)
        uow.commit()
    with uow.across_tenants():
        again = uow.tenants.get(t.id)
        assert again is not None and again.name == "Changed while detached"


# --- uniqueness -----------------------------------------------------------------------------


def _pairs() -> dict[str, Callable[[Tenant, Lead], tuple[Any, Any]]]:
    def same(make: Callable[..., Any], *names: str) -> Callable[[Tenant, Lead], tuple[Any, Any]]:
        def build(t: Tenant, le: Lead) -> tuple[Any, Any]:
            a = make(t, le)
            b = make(t, le, **{n: getattr(a, n) for n in names})
            return a, b

        return build

    return {
        "tenant slug": lambda t, le: (tenant(slug="dup"), tenant(slug="dup")),
        "tenant phone": lambda t, le: (tenant(phone="+12145551234"), tenant(phone="+12145551234")),
        "user email": lambda t, le: (user(t, email="a@b.co"), user(t, email="a@b.co")),
        "api key hash": lambda t, le: (api_key(t, key_hash="h"), api_key(t, key_hash="h")),
        "lead phone": same(lambda t, le, **kw: lead(t, **kw), "phone"),
        "call sid": same(call, "call_sid"),
        "message sid": same(message, "provider_sid"),
        "booking uid": same(booking, "calcom_uid"),
        "subscription": lambda t, le: (subscription(t), subscription(t)),
        "pricebook version": lambda t, le: (pricebook(t, 2), pricebook(t, 2)),
        "webhook event": lambda t, le: (
            webhook(event_id="evt_1"),
            webhook(event_id="evt_1"),
        ),
    }


@pytest.mark.parametrize("case", sorted(_pairs()))
def test_a_duplicate_in_one_transaction_is_a_conflict_and_nothing_is_written(
    make_uow: UowFactory, case: str
) -> None:
    t = tenant()
    le = lead(t)
    _save(make_uow(), t, le)
    a, b = _pairs()[case](t, le)
    uow = make_uow()
    with uow.across_tenants():
        _add(uow, a)
        _add(uow, b)
        with pytest.raises(Conflict):
            uow.commit()
    with make_uow().across_tenants() as reader:
        assert _exists(reader, a) is False
        assert _exists(reader, b) is False


@pytest.mark.parametrize("case", sorted(_pairs()))
def test_a_duplicate_of_a_committed_row_is_a_conflict(make_uow: UowFactory, case: str) -> None:
    t = tenant()
    le = lead(t)
    _save(make_uow(), t, le)
    a, b = _pairs()[case](t, le)
    _save(make_uow(), a)
    bystander = tenant()  # added in the failing transaction too: must not be written either
    uow = make_uow()
    with uow.across_tenants():
        uow.tenants.add(bystander)
        _add(uow, b)
        with pytest.raises(Conflict):
            uow.commit()
    with make_uow().across_tenants() as reader:
        assert _exists(reader, a) is True
        assert reader.tenants.get(bystander.id) is None
        if not isinstance(b, ProcessedWebhook):  # `seen` cannot tell two records apart
            assert _exists(reader, b) is False


def test_nulls_never_clash_and_other_tenants_may_reuse_values(uow: UnitOfWork) -> None:
    t1, t2 = tenant(), tenant()
    l1 = lead(t1, phone="+12145550123")
    l2 = lead(t2, phone="+12145550123")
    no_phone = [lead(t1, phone=None), lead(t1, phone=None)]
    m1, m2 = message(t1, l1, provider_sid=None), message(t1, l1, provider_sid=None)
    m3 = message(t2, l2, provider_sid="SMsame")
    m4 = message(t1, l1, provider_sid="SMsame")
    _save(uow, t1, t2, l1, l2, *no_phone, m1, m2, m3, m4)
    with uow.across_tenants():
        assert uow.leads.get_by_phone(t2.id, "+12145550123") is not None
        assert len(uow.leads.list(t1.id).items) == 3


def _add(uow: UnitOfWork, entity: Any) -> None:
    repo: Any = {
        Tenant: uow.tenants,
        User: uow.users,
        ApiKey: uow.api_keys,
        Lead: uow.leads,
        Call: uow.calls,
        Message: uow.messages,
        Booking: uow.bookings,
        Subscription: uow.subscriptions,
        PriceBookVersion: uow.pricebooks,
        ProcessedWebhook: uow.webhooks,
    }[type(entity)]
    repo.add(entity)


def _exists(uow: UnitOfWork, e: Any) -> bool:
    found: Any
    if isinstance(e, Tenant):
        found = uow.tenants.get(e.id)
    elif isinstance(e, User):
        found = uow.users.get(e.tenant_id, e.id)
    elif isinstance(e, ApiKey):
        found = [k for k in uow.api_keys.list(e.tenant_id) if k.id == e.id] or None
    elif isinstance(e, Lead):
        found = uow.leads.get(e.tenant_id, e.id)
    elif isinstance(e, Call):
        found = uow.calls.get_by_sid(e.tenant_id, e.call_sid)
        found = found if found is not None and found.id == e.id else None
    elif isinstance(e, Message):
        found = uow.messages.get(e.tenant_id, e.id)
    elif isinstance(e, Booking):
        found = uow.bookings.get(e.tenant_id, e.id)
    elif isinstance(e, Subscription):
        found = uow.subscriptions.get(e.tenant_id)
        found = found if found is not None and found.id == e.id else None
    elif isinstance(e, PriceBookVersion):
        found = uow.pricebooks.get_version(e.tenant_id, e.version)
        found = found if found is not None and found.id == e.id else None
    else:
        return uow.webhooks.seen(e.provider, e.event_id)
    return found is not None


# --- tenant scoping -------------------------------------------------------------------------

SCOPED: dict[str, Callable[[UnitOfWork, str, dict[str, Any]], Any]] = {
    "user": lambda u, tid, w: u.users.get(tid, w["user"].id),
    "api keys": lambda u, tid, w: u.api_keys.list(tid) or None,
    "lead": lambda u, tid, w: u.leads.get(tid, w["lead"].id),
    "lead by phone": lambda u, tid, w: u.leads.get_by_phone(tid, w["lead"].phone),
    "lead by email": lambda u, tid, w: u.leads.get_by_email(tid, "jane@example.com"),
    "leads list": lambda u, tid, w: u.leads.list(tid).items or None,
    "conversation": lambda u, tid, w: u.conversations.get(tid, w["conversation"].id),
    "latest conversation": lambda u, tid, w: u.conversations.latest_for_lead(tid, w["lead"].id),
    "conversation by chatwoot id": lambda u, tid, w: u.conversations.get_by_chatwoot_id(tid, 4242),
    "message": lambda u, tid, w: u.messages.get(tid, w["message"].id),
    "message by sid": lambda u, tid, w: u.messages.get_by_provider_sid(
        tid, w["message"].provider_sid
    ),
    "messages of lead": lambda u, tid, w: u.messages.list_for_lead(tid, w["lead"].id).items or None,
    "call by sid": lambda u, tid, w: u.calls.get_by_sid(tid, w["call"].call_sid),
    "last texted back": lambda u, tid, w: u.calls.last_texted_back(tid, w["lead"].id),
    "quote": lambda u, tid, w: u.quotes.get(tid, w["quote"].id),
    "latest quote": lambda u, tid, w: u.quotes.latest_for_lead(tid, w["lead"].id),
    "quotes list": lambda u, tid, w: u.quotes.list(tid).items or None,
    "booking": lambda u, tid, w: u.bookings.get(tid, w["booking"].id),
    "booking by uid": lambda u, tid, w: u.bookings.get_by_uid(tid, w["booking"].calcom_uid),
    "bookings list": lambda u, tid, w: u.bookings.list(tid).items or None,
    "subscription": lambda u, tid, w: u.subscriptions.get(tid),
    "pricebook current": lambda u, tid, w: u.pricebooks.current(tid),
    "pricebook version": lambda u, tid, w: u.pricebooks.get_version(tid, 1),
    "pricebook versions": lambda u, tid, w: u.pricebooks.list_versions(tid) or None,
}


@pytest.mark.parametrize("lookup", sorted(SCOPED))
def test_another_tenants_id_finds_nothing(make_uow: UowFactory, lookup: str) -> None:
    owner, other = tenant(), tenant()
    le = lead(owner)
    world = {
        "user": user(owner),
        "lead": le,
        "conversation": conversation(owner, le),
        "message": message(owner, le),
        "call": call(owner, le),
        "quote": quote(owner, le),
        "booking": booking(owner, le),
    }
    extra = [api_key(owner), subscription(owner), pricebook(owner, 1)]
    _save(make_uow(), owner, other, *world.values(), *extra)
    with make_uow().across_tenants() as uow:
        assert SCOPED[lookup](uow, owner.id, world) is not None
        assert SCOPED[lookup](uow, other.id, world) is None


# --- lookups --------------------------------------------------------------------------------


def test_tenant_lookups(uow: UnitOfWork) -> None:
    b, a = tenant(slug="bravo"), tenant(slug="alpha")
    _save(uow, b, a)
    with uow.across_tenants():
        assert _ids(uow.tenants.list()) == [a.id, b.id]  # by slug
        assert _ids([uow.tenants.get_by_slug("bravo")]) == [b.id]
        assert _ids([uow.tenants.get_by_phone(a.phone)]) == [a.id]
        assert uow.tenants.get_by_slug("charlie") is None
        assert uow.tenants.get_by_phone("+19999999999") is None


def test_user_email_and_api_key_hash_lookups(uow: UnitOfWork) -> None:
    t = tenant()
    u = user(t, email="owner@example.com")
    k1 = api_key(t, created_at=T0)
    k2 = api_key(t, created_at=T0 + timedelta(minutes=1))
    _save(uow, t, u, k1, k2)
    with uow.across_tenants():
        assert _ids([uow.users.get_by_email("Owner@Example.com")]) == [u.id]
        assert uow.users.get_by_email("nobody@example.com") is None
        assert _ids([uow.api_keys.get_by_hash(k2.key_hash)]) == [k2.id]
        assert uow.api_keys.get_by_hash("nope") is None
        assert sorted(_ids(uow.api_keys.list(t.id))) == sorted([k1.id, k2.id])


def test_lead_email_lookup_ignores_case(uow: UnitOfWork) -> None:
    t = tenant()
    le = lead(t, email="Mixed.Case@Example.com")
    _save(uow, t, le)
    with uow.across_tenants():
        assert _ids([uow.leads.get_by_email(t.id, "mixed.case@EXAMPLE.com")]) == [le.id]
        assert uow.leads.get_by_email(t.id, "other@example.com") is None


def test_latest_and_last_lookups(uow: UnitOfWork) -> None:
    t = tenant()
    le = lead(t)
    c_old = conversation(t, le, created_at=T0, chatwoot_conversation_id=1)
    c_new = conversation(t, le, created_at=T0 + timedelta(hours=1), chatwoot_conversation_id=2)
    q_old, q_new = quote(t, le, created_at=T0), quote(t, le, created_at=T0 + timedelta(days=1))
    texted = call(t, le, created_at=T0, texted_back=True)
    later_not_texted = call(t, le, created_at=T0 + timedelta(hours=2), texted_back=False)
    _save(uow, t, le, c_new, c_old, q_new, q_old, texted, later_not_texted)
    with uow.across_tenants():
        assert _ids([uow.conversations.latest_for_lead(t.id, le.id)]) == [c_new.id]
        assert _ids([uow.conversations.get_by_chatwoot_id(t.id, 1)]) == [c_old.id]
        assert uow.conversations.get_by_chatwoot_id(t.id, 3) is None
        assert _ids([uow.quotes.latest_for_lead(t.id, le.id)]) == [q_new.id]
        assert _ids([uow.calls.last_texted_back(t.id, le.id)]) == [texted.id]
        other = lead(t)
        uow.leads.add(other)
        assert uow.calls.last_texted_back(t.id, other.id) is None
        assert uow.quotes.latest_for_lead(t.id, other.id) is None
        assert uow.conversations.latest_for_lead(t.id, other.id) is None


def test_subscription_by_customer(uow: UnitOfWork) -> None:
    t = tenant()
    s = subscription(t, stripe_customer_id="cus_123")
    _save(uow, t, s)
    with uow.across_tenants():
        assert _ids([uow.subscriptions.get_by_customer("cus_123")]) == [s.id]
        assert uow.subscriptions.get_by_customer("cus_999") is None


def test_pricebook_versions(uow: UnitOfWork) -> None:
    t = tenant()
    with uow.across_tenants():
        assert uow.pricebooks.current(t.id) is None
        assert uow.pricebooks.list_versions(t.id) == []
    v2, v1, v3 = pricebook(t, 2), pricebook(t, 1), pricebook(t, 3, document={"v": 3})
    _save(uow, t, v2, v1, v3)
    with uow.across_tenants():
        current = uow.pricebooks.current(t.id)
        assert current is not None and (current.version, current.document) == (3, {"v": 3})
        assert uow.pricebooks.list_versions(t.id) == [1, 2, 3]
        assert _ids([uow.pricebooks.get_version(t.id, 2)]) == [v2.id]
        assert uow.pricebooks.get_version(t.id, 4) is None


def test_list_queued_is_outbound_queued_before_the_cutoff_oldest_first(uow: UnitOfWork) -> None:
    t1, t2 = tenant(), tenant()
    l1, l2 = lead(t1), lead(t2)

    def queued(t: Tenant, le: Lead, minutes: int, **kw: Any) -> Message:
        at = T0 + timedelta(minutes=minutes)
        kw.setdefault("status", MessageStatus.QUEUED)
        kw.setdefault("direction", Direction.OUTBOUND)
        return message(t, le, provider_sid=None, created_at=at, updated_at=at, **kw)

    wanted = [queued(t2, l2, 1), queued(t1, l1, 2), queued(t2, l2, 3), queued(t1, l1, 4)]
    unwanted = [
        queued(t1, l1, 0, status=MessageStatus.SENT),
        queued(t1, l1, 0, status=MessageStatus.HELD),
        queued(t1, l1, 0, direction=Direction.INBOUND),
        queued(t1, l1, 10),  # at the cutoff: not before it
        queued(t1, l1, 11),
    ]
    _save(uow, t1, t2, l1, l2, *reversed(wanted), *unwanted)
    cutoff = T0 + timedelta(minutes=10)
    with uow.across_tenants():
        assert _ids(uow.messages.list_queued(created_before=cutoff)) == _ids(wanted)
        assert _ids(uow.messages.list_queued(created_before=cutoff, limit=2)) == _ids(wanted[:2])


# --- lists: pagination, filters, search -----------------------------------------------------


def _walk(fetch: Callable[[Cursor | None], Page[Any]]) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = fetch(cursor)
        pages.append(_ids(page.items))
        if page.next_cursor is None:
            return pages
        cursor = Cursor.decode(page.next_cursor)


def _flat(pages: list[list[str]]) -> list[str]:
    return [ident for page in pages for ident in page]


def _stamps(count: int) -> list[datetime]:
    # pairs share a created_at, so the id decides between them
    return [T0 + timedelta(seconds=i // 2) for i in range(count)]


def _newest_first(items: list[Any]) -> list[str]:
    return _ids(sorted(items, key=lambda e: (e.created_at, e.id), reverse=True))


def test_leads_page_newest_first_in_stable_pages(uow: UnitOfWork) -> None:
    t, other = tenant(), tenant()
    leads = [lead(t, created_at=at) for at in _stamps(7)]
    _save(uow, t, other, *leads, lead(other))
    with uow.across_tenants():
        pages = _walk(lambda c: uow.leads.list(t.id, limit=3, after=c))
        again = _walk(lambda c: uow.leads.list(t.id, limit=3, after=c))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert _flat(pages) == _newest_first(leads)
    assert again == pages


def test_an_exact_page_has_no_next_cursor(uow: UnitOfWork) -> None:
    t = tenant()
    leads = [lead(t, created_at=at) for at in _stamps(3)]
    _save(uow, t, *leads)
    with uow.across_tenants():
        page = uow.leads.list(t.id, limit=3)
        assert page.next_cursor is None and len(page.items) == 3
        empty = uow.leads.list(tenant().id)
        assert (empty.items, empty.next_cursor) == ([], None)


def test_messages_quotes_and_bookings_page_the_same_way(uow: UnitOfWork) -> None:
    t = tenant()
    le, other_lead = lead(t), lead(t)
    stamps = _stamps(7)
    msgs = [message(t, le, created_at=at, provider_sid=None) for at in stamps]
    quotes = [quote(t, le if i % 2 else other_lead, created_at=at) for i, at in enumerate(stamps)]
    books = [booking(t, le, created_at=at) for at in stamps]
    _save(uow, t, le, other_lead, *msgs, message(t, other_lead), *quotes, *books)
    with uow.across_tenants():
        msg_pages = _walk(lambda c: uow.messages.list_for_lead(t.id, le.id, limit=3, after=c))
        quote_pages = _walk(lambda c: uow.quotes.list(t.id, limit=3, after=c))
        lead_quotes = _walk(lambda c: uow.quotes.list(t.id, lead_id=le.id, limit=2, after=c))
        booking_pages = _walk(lambda c: uow.bookings.list(t.id, limit=3, after=c))
    assert [len(p) for p in msg_pages] == [3, 3, 1]
    assert _flat(msg_pages) == _newest_first(msgs)
    assert _flat(quote_pages) == _newest_first(quotes)
    assert [len(p) for p in lead_quotes] == [2, 1]
    assert _flat(lead_quotes) == _newest_first([q for q in quotes if q.lead_id == le.id])
    assert _flat(booking_pages) == _newest_first(books)


def test_lead_search_and_status_filter(uow: UnitOfWork) -> None:
    t = tenant()
    jane = lead(t, name="Jane O'Hara", phone="+12145550111", status=LeadStatus.NEW)
    john = lead(t, name="JOHN SMITH", phone="+14695550222", status=LeadStatus.QUOTED)
    nameless = lead(t, name=None, phone="+12145550333", status=LeadStatus.QUOTED)
    percent = lead(t, name="100% Clean", phone=None, status=LeadStatus.LOST)
    _save(uow, t, jane, john, nameless, percent)

    def found(**kw: Any) -> set[str]:
        return set(_ids(uow.leads.list(t.id, **kw).items))

    with uow.across_tenants():
        assert found(search="jo") == {john.id}
        assert found(search="JANE") == {jane.id}
        assert found(search="o'h") == {jane.id}
        assert found(search="555011") == {jane.id}
        assert found(search="+1214") == {jane.id, nameless.id}
        assert found(search="%") == {percent.id}  # literal, not a wildcard
        assert found(search="_") == set()
        assert found(status=LeadStatus.QUOTED) == {john.id, nameless.id}
        assert found(status=LeadStatus.QUOTED, search="214") == {nameless.id}
        assert found(status=LeadStatus.BOOKED) == set()
        assert found(search="") == {jane.id, john.id, nameless.id, percent.id}
