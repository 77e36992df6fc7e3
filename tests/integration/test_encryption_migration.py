"""The encryption migration (issue 14) on a populated plaintext database, on both backends:
every customer field and tenant secret is encrypted, the blind indexes find what they
should, and the downgrade gives the plaintext back (then the upgrade again)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import Script, ScriptDirectory

from lily_adapters.sql import migrate
from lily_adapters.sql.uow import SqlUnitOfWork, create_engine_for, make_session_factory
from lily_core.domain.lead_search import LeadSearch, phone_index_keys
from tests.conftest import empty_database

SCHEMA = "lily_encryption_migration"
AT = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
PHONE, OTHER_PHONE = "+12145550123", "+14695550999"
SECRETS = {
    "calcom_secret": "calcom_plain_secret_1",
    "sandbox_auth_token": "sandbox_plain_token_2",
    "twilio_auth_token": "twilio_plain_token_3",
    "chatwoot_secret": "chatwoot_plain_secret_4",
}
MEDIA = [{"url": f"https://api.twilio.com/media/{PHONE}/1", "content_type": "image/jpeg"}]


def _ours() -> Script:
    return _script("_encryption.py")


def _script(suffix: str) -> Script:
    scripts = ScriptDirectory(migrate.script_location())
    [found] = [r for r in scripts.walk_revisions() if r.path.endswith(suffix)]
    return found


def _module(suffix: str) -> Any:
    path = _script(suffix).path
    spec = importlib.util.spec_from_file_location(f"lily_migration{suffix[:-3]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "import phone_index_keys" not in Path(path).read_text()  # the live rule is not
    return module


def test_the_migrations_keep_their_own_copies_of_the_search_key_rule() -> None:
    """A migration is frozen: it writes lead_phone_keys by the rule of its day, copied into
    it, not imported (a later rule is a later migration's). 0012 wrote seventeen keys a US
    number, 0014 rewrites them as six: the live rule is 0014's. When this fails, the live
    rule changed, and the existing rows need a migration of their own."""
    encryption, fewer = _module("_encryption.py"), _module("_fewer_search_keys.py")
    for phone in (PHONE, OTHER_PHONE, "+447700900123", "+3612345", "+1234"):
        digits = phone.removeprefix("+")
        assert encryption._phone_index_keys(phone) == fewer._seventeen(digits), phone
        assert fewer._six(digits) == phone_index_keys(phone), phone
    assert len(fewer._six(PHONE[1:])) == 6 and len(fewer._seventeen(PHONE[1:])) == 17


def _revisions() -> tuple[str, str]:
    """(the encryption migration's revision, the one before it)."""
    ours = _ours()
    return ours.revision, str(ours.down_revision)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from empty_database(request, tmp_path, SCHEMA)


def _type(value: Any) -> sa.types.TypeEngine[Any] | None:
    if isinstance(value, datetime):
        return sa.DateTime(timezone=True)
    if isinstance(value, time):
        return sa.Time()
    if isinstance(value, list | dict):
        return sa.JSON()
    return None


def _insert(conn: sa.Connection, table: str, **values: Any) -> None:
    if conn.dialect.name == "sqlite":  # UtcDateTime's storage there: naive UTC
        values = {
            k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in values.items()
        }
    target = sa.table(table, *(sa.column(name, _type(v)) for name, v in values.items()))
    conn.execute(sa.insert(target).values(**values))


def _populate(engine: sa.Engine) -> None:
    """A tenant with two leads, written as the schema before encryption stores them."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT set_config('lily.all_tenants', 'on', true)"))
        _insert(
            conn,
            "tenants",
            id="t1",
            name="Acme",
            slug="acme",
            phone="+15125550100",
            timezone="America/Chicago",
            quiet_hours_start=time(21),
            quiet_hours_end=time(8),
            strict_quiet_hours=False,
            missed_call_template="Sorry we missed you",
            missed_call_dedupe_minutes=10,
            conversational_window_minutes=60,
            review_delay_hours=24,
            review_cooldown_days=90,
            automations_paused=False,
            twilio_account_sid="AC" + "1" * 32,
            created_at=AT,
            **SECRETS,
        )
        for lead_id, phone, name, email in [
            ("l1", PHONE, "Jane O'Hara", "Jane@Example.com"),
            ("l2", OTHER_PHONE, None, None),
        ]:
            _insert(
                conn,
                "leads",
                id=lead_id,
                tenant_id="t1",
                phone=phone,
                phone_reversed=phone[::-1],
                name=name,
                email=email,
                status="new",
                opted_out=False,
                automations_paused=False,
                created_at=AT,
                last_activity_at=AT,
            )
        _insert(
            conn,
            "conversations",
            id="cv1",
            tenant_id="t1",
            lead_id="l1",
            channel="sms",
            photo_count=1,
            service_text="house wash at 12 Elm St",
            created_at=AT,
            updated_at=AT,
        )
        _insert(
            conn,
            "messages",
            id="m1",
            tenant_id="t1",
            lead_id="l1",
            direction="inbound",
            kind="inbound",
            body="I live at 12 Elm St",
            media=MEDIA,
            status="received",
            business_initiated=False,
            created_at=AT,
            updated_at=AT,
        )
        _insert(
            conn,
            "calls",
            id="c1",
            tenant_id="t1",
            lead_id="l1",
            call_sid="CA" + "2" * 32,
            from_phone=PHONE,
            status="no-answer",
            missed=True,
            texted_back=True,
            created_at=AT,
            updated_at=AT,
        )
        _insert(
            conn,
            "bookings",
            id="b1",
            tenant_id="t1",
            lead_id="l1",
            calcom_uid="uid1",
            status="booked",
            title="House wash between Acme and Jane O'Hara",
            start_at=AT,
            end_at=AT,
            address="12 Elm St",
            attendee_name="Jane O'Hara",
            attendee_email="jane@example.com",
            attendee_phone=PHONE,
            created_at=AT,
            updated_at=AT,
        )
        _insert(
            conn,
            "consent_ledger",
            id="cl1",
            tenant_id="t1",
            phone=OTHER_PHONE,
            lead_id="l2",
            action="opt_out",
            evidence="STOP",
            channel="sms",
            created_at=AT,
        )


def _raw(engine: sa.Engine, sql: str) -> list[Any]:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT set_config('lily.all_tenants', 'on', true)"))
        return list(conn.execute(sa.text(sql)).all())


def test_plaintext_rows_are_encrypted_found_and_given_back_by_the_downgrade(db_url: str) -> None:
    ours, before = _revisions()
    migrate.upgrade(db_url, before)
    engine = create_engine_for(db_url)
    try:
        _populate(engine)
        plain = _raw(engine, "SELECT phone, name, email FROM leads ORDER BY id")

        migrate.upgrade(db_url, ours)
        seventeen = set(_raw(engine, "SELECT lead_id, key FROM lead_phone_keys"))
        assert len(seventeen) == 17 * 2
        migrate.upgrade(db_url)  # the later revisions too: the ORM below maps their columns

        stored = " ".join(
            str(value)
            for sql in (
                "SELECT phone, name, email, phone_bidx, email_bidx FROM leads",
                "SELECT calcom_secret, sandbox_auth_token, twilio_auth_token, chatwoot_secret"
                " FROM tenants",
                "SELECT body, media FROM messages",
                "SELECT from_phone FROM calls",
                "SELECT title, address, attendee_name, attendee_email, attendee_phone"
                " FROM bookings",
                "SELECT phone FROM consent_ledger",
                "SELECT service_text FROM conversations",
            )
            for row in _raw(engine, sql)
            for value in row
        )
        for clear in [
            "2145550123",
            "4695550999",
            "Jane O'Hara",
            "Jane@Example.com",
            "Elm St",
            *SECRETS.values(),
        ]:
            assert clear not in stored, clear
        six = set(_raw(engine, "SELECT lead_id, key FROM lead_phone_keys"))
        assert len(six) == 6 * 2 and six < seventeen  # 0014: the starts of 3-7 digits, the end of 4

        with SqlUnitOfWork(make_session_factory(engine)).across_tenants() as uow:
            jane = uow.leads.get_by_phone("t1", PHONE)
            assert jane is not None and jane.id == "l1"
            assert (jane.name, jane.email) == ("Jane O'Hara", "Jane@Example.com")
            by_email = uow.leads.get_by_email("t1", "jane@example.COM")
            assert by_email is not None and by_email.id == "l1"
            for q, found in [
                ("0123", ["l1"]),
                ("+1 469", ["l2"]),
                ("214555", ["l1"]),
                ("(214) 555-0123", ["l1"]),  # longer than any key: narrowed, then matched
                ("5550999", ["l2"]),
                ("2145550999", []),
            ]:
                page = uow.leads.list_by_activity("t1", search=LeadSearch.parse(q))
                assert [le.id for le in page.items] == found, q
            consent = uow.consent.latest_for_phone("t1", OTHER_PHONE)
            assert consent is not None and consent.phone == OTHER_PHONE
            message = uow.messages.get("t1", "m1")
            assert message is not None and message.body == "I live at 12 Elm St"
            assert message.media == MEDIA
            tenant = uow.tenants.get("t1")
            assert tenant is not None
            assert {k: getattr(tenant, k) for k in SECRETS} == SECRETS
            booking = uow.bookings.get("t1", "b1")
            assert booking is not None and booking.attendee_phone == PHONE

        migrate.downgrade(db_url, "0013")  # 0014's downgrade: the seventeen keys back
        assert set(_raw(engine, "SELECT lead_id, key FROM lead_phone_keys")) == seventeen
        migrate.upgrade(db_url)
        assert set(_raw(engine, "SELECT lead_id, key FROM lead_phone_keys")) == six

        migrate.downgrade(db_url, before)
        assert _raw(engine, "SELECT phone, name, email FROM leads ORDER BY id") == plain
        assert _raw(engine, "SELECT phone_reversed FROM leads ORDER BY id") == [
            (PHONE[::-1],),
            (OTHER_PHONE[::-1],),
        ]
        assert _raw(engine, "SELECT calcom_secret FROM tenants") == [(SECRETS["calcom_secret"],)]

        migrate.upgrade(db_url)  # and up again, from the plaintext the downgrade left
        with SqlUnitOfWork(make_session_factory(engine)).across_tenants() as uow:
            again = uow.leads.get_by_phone("t1", PHONE)
            assert again is not None and again.name == "Jane O'Hara"
    finally:
        engine.dispose()
