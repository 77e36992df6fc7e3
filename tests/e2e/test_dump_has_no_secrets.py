"""Issue 14's done-when: after a missed call, a quote and a booking, a dump of the database
(SQLite's iterdump, PostgreSQL's pg_dump) and of Redis (every key's value: the queue's task
payloads and errors) holds none of the customer's number, email or name, nor any tenant
secret -- while the flows worked and Lily reads it all back. Nor does a provider's error
text that named the number rest anywhere."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest
import redis
import sqlalchemy as sa

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from lily_core.domain.leads import MessageKind, MessageStatus
from tests.e2e.conftest import CALLER, JITTER_MAX, START, Lily, after
from tests.e2e.test_booking_flow import ADDRESS, calcom_body
from tests.e2e.test_quote_flow import BOOKING_URL, import_pricebook, mms, settle

CALCOM_SECRET = "calcom_dump_secret_7f3a9c2e51"
CHATWOOT_SECRET = "chatwoot_dump_secret_0b8d4e66"
OWN_TWILIO_TOKEN = "own_twilio_token_5e1c77d0a9f3"
NAME = "Quentin Zebulon-Marsh"
EMAIL = "quentin.zm@example.org"
STREET = "4417 Wisteria Hollow Ln"


def _dump(database_url: str) -> str:
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(str(url.database)) as conn:
            return "\n".join(conn.iterdump())
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is not installed")
    # as the URL's login user (not the app role the tests switch to): a superuser dumps
    # every row whatever row-level security says
    plain = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    done = subprocess.run(
        [pg_dump, "--no-owner", "--dbname", plain],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _redis_dump(redis_url: str | None) -> str:
    """Every key of Lily's Redis index and its value, whatever its type ("" without Redis)."""
    if redis_url is None:
        return ""
    client = redis.Redis.from_url(redis_url)
    read = {
        b"string": lambda key: [client.get(key)],
        b"hash": lambda key: [*client.hgetall(key).items()],
        b"list": lambda key: client.lrange(key, 0, -1),
        b"set": lambda key: list(client.smembers(key)),
        b"zset": lambda key: client.zrange(key, 0, -1),
        b"stream": lambda key: client.xrange(key),
    }
    parts = []
    try:
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            parts.append(f"{key!r} {kind!r} {read[kind](key)!r}")
    finally:
        client.close()
    return "\n".join(parts)


def _everything(lily: Lily) -> str:
    settings = lily.container.settings()
    return _dump(str(settings.database_url)) + "\n" + _redis_dump(settings.redis_url)


def test_a_dump_after_a_call_a_quote_and_a_booking_shows_no_customer_data_or_secret(
    lily: Lily,
) -> None:
    import_pricebook(lily)
    tenant = lily.update_tenant(
        booking_url=BOOKING_URL,
        calcom_secret=CALCOM_SECRET,
        chatwoot_secret=CHATWOOT_SECRET,
        chatwoot_account_id="1",
        chatwoot_inbox_id="2",
    )
    lily.tenant = tenant

    assert lily.missed_call("CA" + "d" * 32).status_code == 200
    settle(lily)
    mms(lily, f"2 story house at {STREET} in 75201, I'm {NAME}, {EMAIL}", photos=2)
    settle(lily)
    lead = lily.lead()
    body = calcom_body(lead_id=lead.id, phone=CALLER, name=NAME, email=EMAIL)
    response = lily.client.post(
        f"/webhooks/calcom/{tenant.slug}",
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(CALCOM_SECRET, body)},
    )
    assert response.status_code == 200, response.text
    settle(lily)
    own = lily.update_tenant(twilio_account_sid="AC" + "e" * 32, twilio_auth_token=OWN_TWILIO_TOKEN)

    # the flows worked, and Lily reads back what it stored
    kinds = {m.kind for m in lily.outbound()}
    assert {MessageKind.MISSED_CALL, MessageKind.QUOTE} <= kinds, kinds
    quote_text = next(m.body for m in lily.outbound() if m.kind == MessageKind.QUOTE)
    assert "attendeePhoneNumber" in quote_text  # the booking link carries the number
    with lily.container.uow().across_tenants() as uow:
        [booking] = uow.bookings.list(tenant.id).items
        again = uow.leads.get_by_phone(tenant.id, CALLER)
        stored = uow.tenants.get(tenant.id)
    assert (booking.attendee_name, booking.attendee_email, booking.address) == (
        NAME,
        EMAIL,
        ADDRESS,
    )
    assert again is not None and again.id == lead.id
    assert stored is not None and stored.calcom_secret == CALCOM_SECRET
    assert stored.twilio_auth_token == OWN_TWILIO_TOKEN

    dump = _everything(lily)
    assert tenant.slug in dump and lead.id in dump  # a dump of this database, with rows
    if lily.container.settings().redis_url:
        assert "lily:{" in dump  # and of the queue's keys in Redis
    digits = CALLER.removeprefix("+1")
    secrets = {
        "the customer's number": digits,
        "the number's last seven digits": digits[-7:],
        "the customer's name": NAME,
        "the customer's surname": "Zebulon",
        "the customer's email": EMAIL,
        "the customer's street": STREET,
        "the booking's address": ADDRESS,
        "the Cal.com secret": CALCOM_SECRET,
        "the Chatwoot secret": CHATWOOT_SECRET,
        "the tenant's own Twilio token": OWN_TWILIO_TOKEN,
        "the sandbox token": own.sandbox_auth_token,
    }
    found = [what for what, value in secrets.items() if value and value in dump]
    assert not found, found


def test_a_provider_error_naming_the_number_is_stored_without_it(lily: Lily) -> None:
    """Twilio's text for a bad number names it; Lily keeps the error (on the message, on the
    dead-lettered task) with the number dropped."""
    lily.twilio.fail_next(400, 21211, f"The 'To' number {CALLER} is not a valid phone number.")
    assert lily.missed_call("CA" + "f" * 32).status_code == 200
    lily.run_worker_at(after(START, JITTER_MAX + 0.5))

    [message] = lily.outbound()
    assert message.status == MessageStatus.FAILED and message.error_code == "21211"
    assert message.error_message is not None and "[number]" in message.error_message
    dump = _everything(lily)
    assert "21211" in dump  # the error is stored...
    digits = CALLER.removeprefix("+1")
    assert digits not in dump and digits[-7:] not in dump  # ...without the number
