"""The end-to-end harness: the FastAPI app over HTTP (starlette TestClient) and the worker in
burst mode, on one composition root built from Settings, with Twilio's REST API played by
the wire-format stand-in. Every test runs on two backends: "embedded" (a SQLite file and the
SQL queue) and "postgres_redis" (PostgreSQL and the Redis queue).

Time is a FakeClock handed to the container: the queue hands out only tasks due by that
clock, so `run_worker_at(instant)` decides exactly what the worker may send."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from dependency_injector import providers
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from lily_adapters.container import Container, build_container
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_adapters.sql.uow import set_tenant_scope
from lily_core.domain.leads import Call, Lead, Message
from lily_core.domain.owner_alerts import ALERT_SWITCHES
from lily_core.domain.tenant import Tenant
from lily_core.ports.queue import QueueStats
from lily_core.testing import FakeClock
from lily_http.app import create_app
from lily_worker.wiring import build_worker
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn

PUBLIC_URL = "http://testserver"
JITTER_MIN, JITTER_MAX = 10.0, 45.0
BUSINESS_PHONE = "+15125550100"
FORWARD_TO = "+15125550199"
CALLER = "+15125550123"
# 10:00 in Austin (America/Chicago, CDT): outside the default 21:00-08:00 quiet hours
START = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


class Lily:
    """One running Lily: app client, container, clock, Twilio stand-in and a tenant."""

    def __init__(
        self, container: Container, client: TestClient, clock: FakeClock, twilio: TwilioStandIn
    ) -> None:
        self.container, self.client, self.clock, self.twilio = container, client, clock, twilio
        self.token = DEFAULT_AUTH_TOKEN  # the platform token signs every platform tenant
        self.tenant = self.onboard("Acme Wash Co", BUSINESS_PHONE, forward_to=FORWARD_TO)
        # Alerts to the owner (issue 18) would text FORWARD_TO too: the flows' tests count the
        # customer's texts, so they start off here; tests/e2e/test_owner_alerts turns them on.
        self.tenant = self.update_tenant(**dict.fromkeys(ALERT_SWITCHES, "false"))

    # -- set-up ---------------------------------------------------------------------------

    def onboard(self, name: str, phone: str, *, forward_to: str | None = None) -> Tenant:
        return self.container.onboard_tenant()(
            name=name, phone=phone, forward_to=forward_to, timezone="America/Chicago"
        )

    def update_tenant(self, **changes: str) -> Tenant:
        return self.container.update_tenant()(self.tenant.slug, changes)

    # -- webhooks -------------------------------------------------------------------------

    def signature(self, url: str, form: Mapping[str, str], token: str | None = None) -> str:
        return str(RequestValidator(token or self.token).compute_signature(url, dict(form)))

    def post_signed(
        self,
        path: str,
        form: Mapping[str, str],
        *,
        token: str | None = None,
        signed_url: str | None = None,
    ) -> httpx.Response:
        """POST `form` to `path`, signed as Twilio signs it (public URL + path), or for
        `signed_url` / with `token` when a test wants a wrong signature."""
        signature = self.signature(signed_url or PUBLIC_URL + path, form, token)
        response: httpx.Response = self.client.post(
            path, data=dict(form), headers={"X-Twilio-Signature": signature}
        )
        return response

    def call(
        self,
        call_sid: str,
        *,
        caller: str = CALLER,
        to: str = BUSINESS_PHONE,
        call_status: str = "ringing",
        dial_call_status: str | None = None,
    ) -> httpx.Response:
        form = {
            "AccountSid": DEFAULT_ACCOUNT_SID,
            "CallSid": call_sid,
            "From": caller,
            "To": to,
            "CallStatus": call_status,
            "Direction": "inbound",
        }
        if dial_call_status is not None:
            form["DialCallStatus"] = dial_call_status
        return self.post_signed("/webhooks/twilio/voice", form)

    def missed_call(self, call_sid: str, *, caller: str = CALLER) -> httpx.Response:
        """The dial action Twilio posts when the forwarded leg was not picked up."""
        return self.call(
            call_sid, caller=caller, call_status="in-progress", dial_call_status="no-answer"
        )

    def sms(
        self,
        message_sid: str,
        body: str,
        *,
        caller: str = CALLER,
        to: str = BUSINESS_PHONE,
        extra: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        form = {
            "AccountSid": DEFAULT_ACCOUNT_SID,
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "From": caller,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            **(extra or {}),
        }
        return self.post_signed("/webhooks/twilio/sms", form)

    def status_callback(
        self, sid: str, status: str, *, error_code: str | None = None, to: str = CALLER
    ) -> httpx.Response:
        form = {
            "AccountSid": DEFAULT_ACCOUNT_SID,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "From": BUSINESS_PHONE,
            "To": to,
        }
        if error_code is not None:
            form["ErrorCode"] = error_code
        return self.post_signed("/webhooks/twilio/sms/status", form)

    # -- time and the worker --------------------------------------------------------------

    def run_worker(self) -> None:
        build_worker(self.container).run_burst()

    def run_worker_at(self, instant: datetime) -> None:
        """Move the clock to `instant` (never backwards) and run what is due by then."""
        assert instant >= self.clock.now(), "the clock does not go backwards"
        self.clock.current = instant
        self.run_worker()

    # -- state ----------------------------------------------------------------------------

    def leads(self) -> list[Lead]:
        with self.container.uow().across_tenants() as uow:
            return list(uow.leads.list(self.tenant.id, limit=100).items)

    def lead(self, phone: str = CALLER) -> Lead:
        with self.container.uow().across_tenants() as uow:
            lead = uow.leads.get_by_phone(self.tenant.id, phone)
        assert lead is not None, f"no lead for {phone}"
        return lead

    def messages(self, phone: str = CALLER) -> list[Message]:
        """The lead's messages, oldest first."""
        lead = self.lead(phone)
        with self.container.uow().across_tenants() as uow:
            items = uow.messages.list_for_lead(self.tenant.id, lead.id, limit=500).items
        return sorted(items, key=lambda m: m.created_at)

    def outbound(self, phone: str = CALLER) -> list[Message]:
        return [m for m in self.messages(phone) if m.direction == "outbound"]

    def call_record(self, call_sid: str) -> Call | None:
        with self.container.uow().across_tenants() as uow:
            return uow.calls.get_by_sid(self.tenant.id, call_sid)

    def count_rows(self, table: str) -> int:
        with self.container.engine().connect() as conn:
            set_tenant_scope(conn, None)  # every tenant's rows
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())

    def queue_stats(self) -> QueueStats:
        return self.container.queue().stats()

    def texts_to(self, phone: str = CALLER) -> list[Any]:
        return [m for m in self.twilio.messages if m.to == phone]


def _clean_postgres(url: str) -> None:
    """Empty every table Lily owns (the schema stays at head)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            names = [n for n in sa.inspect(conn).get_table_names() if n != "alembic_version"]
            if names:
                conn.execute(sa.text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _migrated_postgres(postgres_url: str) -> str:
    migrate.upgrade(postgres_url)
    return postgres_url


@pytest.fixture(params=["embedded", "postgres_redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(database URL, Redis URL or None) of a clean backend."""
    if request.param == "embedded":
        url = f"sqlite:///{tmp_path / 'lily.db'}"
        migrate.upgrade(url)
        return url, None
    database_url: str = request.getfixturevalue("_migrated_postgres")
    redis_url: str = request.getfixturevalue("redis_url")
    _clean_postgres(database_url)
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return database_url, redis_url


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as standin:
        yield standin


@contextmanager
def running_lily(
    backend: tuple[str, str | None],
    twilio: TwilioStandIn,
    tmp_path: Path,
    make: Callable[..., Any] = Lily,
    extra: tuple[Any, ...] = (),
    **settings: Any,
) -> Iterator[Any]:
    """Lily on `backend` with Twilio at the stand-in, the test jitter and a FakeClock at
    START; `settings` adds to or overrides the Settings, `make(container, client, clock,
    twilio, *extra)` builds the harness object (a Lily subclass for more helpers)."""
    database_url, redis_url = backend
    config = Settings(
        **{
            "_env_file": None,
            "database_url": database_url,
            "redis_url": redis_url,
            "public_url": PUBLIC_URL,
            "twilio_account_sid": DEFAULT_ACCOUNT_SID,
            "twilio_auth_token": DEFAULT_AUTH_TOKEN,
            "twilio_api_url": twilio.url,
            "jitter_min_seconds": JITTER_MIN,
            "jitter_max_seconds": JITTER_MAX,
            "data_dir": tmp_path / "data",
            **settings,
        }
    )
    clock = FakeClock(START)
    container = build_container(config)
    # before anything asks for the queue: it reads due times off this clock
    container.clock.override(providers.Object(clock))
    app = create_app(container)
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        yield make(container, client, clock, twilio, *extra)
    container.shutdown_resources()


@pytest.fixture
def lily(backend: tuple[str, str | None], twilio: TwilioStandIn, tmp_path: Path) -> Iterator[Lily]:
    with running_lily(backend, twilio, tmp_path) as harness:
        yield harness


def after(instant: datetime, seconds: float) -> datetime:
    return instant + timedelta(seconds=seconds)
