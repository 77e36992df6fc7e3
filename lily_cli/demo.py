"""`lily demo`: one scripted customer through the real stack, offline.

A fresh embedded Lily (SQLite and the SQL queue in a temporary directory, sandbox SMS, local
photos) is started in this process: the HTTP server on a free local port and the worker.
A demo business gets a sample price book; then a customer misses the business on the phone,
texts two photos (served by a small local HTTP server, as Twilio serves MMS media) and a
ZIP, gets the quote, books on Cal.com, and later gets the review request. Everything goes
through the public webhooks, signed as Twilio and Cal.com sign them; each text Lily sends
is printed as it is stored, with the time since the start. Jitter, the job's length and the
review delay are shortened, and the stack's clock is set to a weekday morning (DemoClock) so
that no quiet hours hold the review request, so that the whole conversation takes seconds;
nothing else differs from production."""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import secrets
import shutil
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import typer
import uvicorn
from dependency_injector import providers

from lily_adapters.calcom import SIGNATURE_HEADER, sign
from lily_adapters.container import Container, build_container
from lily_adapters.logs import configure_logging
from lily_adapters.settings import Settings
from lily_adapters.sql import migrate
from lily_cli.serve import listen
from lily_cli.simulate import SMS_PATH, VOICE_PATH, TwilioSimulator, describe_twiml
from lily_core.domain.leads import Direction, Message
from lily_core.errors import LilyError
from lily_http.app import create_app
from lily_http.routes.twilio import tenant_auth_token
from lily_worker.wiring import build_worker

BUSINESS = "Demo Pressure Washing"
BUSINESS_PHONE = "+12145550100"
OWNER_PHONE = "+12145550199"
CUSTOMER_PHONE = "+12145550123"
CUSTOMER_NAME = "Pat Customer"
CUSTOMER_TEXT = "Hi! It's a 2 story house and the driveway, ZIP 75032"
OWNER_EMAIL = "owner@demo.example"
BOOKING_URL = "https://cal.com/demo-wash/estimate"
REVIEW_URL = "https://g.page/r/demo-wash/review"
ADDRESS = "1200 Main St, Rockwall, TX 75032"
WAIT_SECONDS = 60.0  # for one text; the whole demo must stay well under two minutes
PRICE_BOOK: dict[str, Any] = {  # examples/pricebook.yaml
    "currency": "USD",
    "minimum_charge": 150,
    "round_to": 5,
    "service_area": {
        "base_zip": "75201",
        "radius_miles": 30,
        "free_miles": 15,
        "travel_fee_per_mile": 2,
        "extra_zips": [],
        "excluded_zips": [],
    },
    "services": [
        {
            "key": "house_wash",
            "name": "House wash",
            "keywords": ["house", "home", "siding", "exterior"],
            "low": 250,
            "high": 450,
        },
        {
            "key": "driveway",
            "name": "Driveway / concrete",
            "keywords": ["driveway", "concrete", "sidewalk", "patio"],
            "low": 100,
            "high": 225,
        },
    ],
    "modifiers": [
        {"key": "two_story", "keywords": ["two story", "2 story", "2-story"], "multiplier": 1.25}
    ],
    "default_services": ["house_wash"],
}


class DemoFailed(LilyError):
    """Something the demo waited for did not happen."""


def run_demo(*, keep: bool, port: int, jitter: float, pause: float) -> None:
    """The demo (`lily demo`): see the module's docstring."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="lily-demo-"))
    try:
        with _stack(workdir, port, jitter) as stack:
            script = Script(stack, started, pause)
            script.run()
            script.summary()
            if keep:
                _keep_running(stack, workdir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


# -- the stack: server, worker and photo server in this process ------------------------------


class Stack:
    def __init__(self, container: Container, base_url: str, photos_url: str) -> None:
        self.container, self.base_url, self.photos_url = container, base_url, photos_url
        self.password = secrets.token_urlsafe(9)
        onboard = container.onboard_tenant()
        self.tenant = onboard(
            name=BUSINESS,
            phone=BUSINESS_PHONE,
            forward_to=OWNER_PHONE,
            timezone="America/Chicago",
            zip_code="75201",
            booking_url=BOOKING_URL,
        )
        container.import_pricebook()(self.tenant.slug, PRICE_BOOK)
        self.tenant = container.update_tenant()(
            self.tenant.slug,
            {
                "review_url": REVIEW_URL,
                "review_delay_hours": "0",  # live: 24 h after the job
            },
        )
        container.add_user()(self.tenant.slug, OWNER_EMAIL, self.password, "owner")


@contextlib.contextmanager
def _stack(workdir: Path, port: int, jitter: float) -> Iterator[Stack]:
    sock = listen("127.0.0.1", port)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = demo_settings(workdir, base_url, jitter)
    configure_logging("pretty", "WARNING")  # the transcript is the output
    migrate.upgrade(settings.database_url)
    container = build_container(settings)
    clock = DemoClock("America/Chicago")
    container.clock.override(providers.Object(clock))  # before anything reads the clock
    photos = _PhotoServer()
    server = uvicorn.Server(uvicorn.Config(create_app(container), log_config=None))
    worker = build_worker(container)
    threads = [
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True),
        threading.Thread(target=worker.run, daemon=True),
        threading.Thread(target=photos.serve_forever, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: httpx.get(f"{base_url}/healthz", timeout=1).is_success, "the server")
        yield Stack(container, base_url, photos.url)
    finally:
        server.should_exit = True
        worker.stop()
        photos.shutdown()
        for thread in threads:
            thread.join(timeout=10)
        container.shutdown_resources()
        sock.close()


def demo_settings(workdir: Path, base_url: str, jitter: float) -> Settings:
    """The embedded default in `workdir`, every provider off (sandbox SMS: nothing leaves
    the machine, whatever the environment says), replies after 1/3 to all of `jitter`."""
    off: dict[str, Any] = dict.fromkeys(
        (
            "redis_url",
            "twilio_account_sid",
            "twilio_auth_token",
            "stripe_secret_key",
            "stripe_webhook_secret",
            "google_service_account_file",
            "s3_bucket",
            "chatwoot_url",
            "chatwoot_api_token",
            "secret_key",
        )
    )
    return Settings(
        _env_file=None,  # pydantic-settings: ignore .env in the working directory
        database_url=f"sqlite:///{workdir / 'lily.db'}",
        data_dir=workdir / "data",
        public_url=base_url,
        jitter_min_seconds=jitter / 3,
        jitter_max_seconds=jitter,
        log_format="pretty",
        log_level="WARNING",
        **off,
    )


class DemoClock:
    """Real time, shifted so that it is a Tuesday late morning in the business's timezone
    when the demo starts: the review request, a business-initiated text, then falls outside
    the quiet hours (the tenant's 21:00-08:00, the federal 8 a.m.-9 p.m., and the states'
    Sunday and holiday rules) whenever the demo is run. Everything in the stack reads it."""

    def __init__(self, timezone: str) -> None:
        zone = ZoneInfo(timezone)
        today = datetime.now(zone).date()
        day = today + timedelta(days=(1 - today.weekday()) % 7 or 7)  # the next Tuesday
        while (day.month, day.day) in _FIXED_HOLIDAYS:
            day += timedelta(days=7)
        target = datetime.combine(day, datetime.min.time(), zone).replace(hour=10, minute=30)
        self.offset = target.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


# federal holidays on a fixed date, any of which can fall on a Tuesday (5 U.S.C. 6103)
_FIXED_HOLIDAYS = {(1, 1), (6, 19), (7, 4), (11, 11), (12, 25)}


def _wait_for(ready: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if ready():
                return
        time.sleep(0.05)
    raise DemoFailed(f"{what} did not start within {timeout:g} s")


def tiny_png(rgb: tuple[int, int, int], size: int = 16) -> bytes:
    """A valid PNG of one colour: the customer's "photo", made here, fetched over HTTP."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PHOTOS = {"/house.png": tiny_png((200, 200, 190)), "/driveway.png": tiny_png((120, 120, 120))}


class _PhotoHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PHOTOS.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _PhotoServer(http.server.ThreadingHTTPServer):
    """Serves the customer's photos on a free local port, as Twilio's media URLs do."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PhotoHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


# -- the script -------------------------------------------------------------------------------


class Script:
    """The customer's side, and the transcript of what Lily texts back."""

    def __init__(self, stack: Stack, started: float, pause: float) -> None:
        self.stack, self.started, self.pause = stack, started, pause
        self.client = httpx.Client(timeout=15.0)
        tenant = stack.tenant
        token = tenant_auth_token(stack.container, tenant)
        self.twilio = TwilioSimulator(tenant, token, "AC" + "0" * 32, stack.base_url, self.client)
        self.seen: set[str] = set()
        self.texts = 0
        self.lead_id: str | None = None

    def say(self, who: str, text: str) -> None:
        elapsed = time.monotonic() - self.started
        typer.echo(f"[{elapsed:5.1f}s] {who:<9}{text}")

    def run(self) -> None:
        tenant = self.stack.tenant
        typer.echo(f"Lily demo: {tenant.name}, {tenant.phone}; a customer at {CUSTOMER_PHONE}")
        typer.echo(f"(an embedded Lily at {self.stack.base_url}, sandbox SMS, no network)")
        local = self.stack.container.clock().now().astimezone(ZoneInfo(tenant.timezone))
        typer.echo(f"(its clock reads {local:%A %H:%M} in {tenant.timezone}: no quiet hours)\n")
        self.missed_call()
        self.wait_for_text("the missed-call text-back")
        self.rest()
        self.send_photos()
        self.wait_for_text("the quote")
        self.rest()
        self.book()
        self.wait_for_text("the booking confirmation")
        self.wait_for_text("the review request")

    def rest(self) -> None:
        time.sleep(self.pause)

    def missed_call(self) -> None:
        form = {
            "AccountSid": self.twilio.account_sid,
            "CallSid": "CA" + secrets.token_hex(16),
            "From": CUSTOMER_PHONE,
            "To": self.stack.tenant.phone,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        first = self.twilio.post(VOICE_PATH, form)
        self.say("call", f"the customer calls; Lily: {describe_twiml(first.text)}")
        outcome = {"CallStatus": "in-progress", "DialCallStatus": "no-answer"}
        second = self.twilio.post(VOICE_PATH, {**form, **outcome, "DialCallSid": "CA" + "1" * 32})
        self.say("call", f"nobody picks up; Lily: {describe_twiml(second.text)}")

    def send_photos(self) -> None:
        sid = "MM" + secrets.token_hex(16)
        form = {
            "AccountSid": self.twilio.account_sid,
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "From": CUSTOMER_PHONE,
            "To": self.stack.tenant.phone,
            "Body": CUSTOMER_TEXT,
            "NumMedia": str(len(PHOTOS)),
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        for i, path in enumerate(PHOTOS):
            form[f"MediaUrl{i}"] = self.stack.photos_url + path
            form[f"MediaContentType{i}"] = "image/png"
        self.twilio.post(SMS_PATH, form)
        self.say("Customer", f"[{len(PHOTOS)} photos] {CUSTOMER_TEXT}")

    def book(self) -> None:
        """What Cal.com posts when the customer books through the link in the quote."""
        now = self.stack.container.clock().now()
        start = now.replace(microsecond=0) + timedelta(seconds=1)
        end = start + timedelta(seconds=max(self.pause, 1.0))  # live: an hour or two
        payload = {
            "type": "house-wash-estimate",
            "title": "House wash",
            "startTime": start.isoformat().replace("+00:00", "Z"),
            "endTime": end.isoformat().replace("+00:00", "Z"),
            "organizer": {"name": BUSINESS, "timeZone": self.stack.tenant.timezone},
            "attendees": [
                {
                    "name": CUSTOMER_NAME,
                    "email": "pat@demo.example",
                    "timeZone": "America/Chicago",
                    "phoneNumber": CUSTOMER_PHONE,
                }
            ],
            "location": ADDRESS,
            "uid": "demo-" + secrets.token_hex(8),
            "status": "ACCEPTED",
            "metadata": {"lead_id": self.lead_id},
        }
        body = json.dumps(
            {
                "triggerEvent": "BOOKING_CREATED",
                "createdAt": _z(now),
                "payload": payload,
            }
        ).encode()
        secret = self.stack.tenant.calcom_secret or ""
        url = f"{self.stack.base_url}/webhooks/calcom/{self.stack.tenant.slug}"
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        response = self.client.post(url, content=body, headers=headers)
        if response.status_code != 200:
            raise DemoFailed(f"Cal.com's webhook answered {response.status_code}: {response.text}")
        self.say("Cal.com", f"the customer books the visit at {ADDRESS}")

    def wait_for_text(self, what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            for message in self._new_texts():
                self.texts += 1
                self.say("Lily", message.body or "")
                return
            time.sleep(0.1)
        raise DemoFailed(f"no text from Lily for {what} within {WAIT_SECONDS:g} s")

    def _new_texts(self) -> list[Message]:
        """Lily's texts to the customer stored as sent (sandbox) since the last look."""
        tenant_id = self.stack.tenant.id
        with self.stack.container.uow().for_tenant(tenant_id) as uow:
            lead = uow.leads.get_by_phone(tenant_id, CUSTOMER_PHONE)
            if lead is None:
                return []
            self.lead_id = lead.id
            page = uow.messages.list_for_lead(tenant_id, lead.id, limit=200, oldest_first=True)
        fresh = [
            m
            for m in page.items
            if m.direction == Direction.OUTBOUND and m.sent_at is not None and m.id not in self.seen
        ]
        self.seen.update(m.id for m in fresh)
        return fresh

    def summary(self) -> None:
        elapsed = time.monotonic() - self.started
        typer.echo(f"\nDone in {elapsed:.1f} s: {self.texts} texts from Lily, none of them sent")
        typer.echo("(sandbox mode stores them). What /metrics counted for the demo business:")
        metrics = self.client.get(f"{self.stack.base_url}/metrics").text
        slug = f'tenant="{self.stack.tenant.slug}"'
        for line in metrics.splitlines():
            if slug in line and not line.startswith("#") and not _SKIPPED.search(line):
                typer.echo(f"  {line}")


_SKIPPED = re.compile(r"_(bucket|created)\{")


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _keep_running(stack: Stack, workdir: Path) -> None:
    typer.echo(
        f"\nStill running at {stack.base_url} (Ctrl-C to stop). Sign in to the dashboard "
        f"there as {OWNER_EMAIL} with the password {stack.password}"
    )
    typer.echo(f"Its data is in {workdir} (left there afterwards).")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
