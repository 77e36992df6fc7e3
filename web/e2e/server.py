"""The browser tests' server: a real `lily serve` (API, worker and the built dashboard) on a
throw-away SQLite database, talking to the Twilio REST stand-in of tests/standins/twilio.py
and the Stripe stand-in of tests/standins/stripe.py (billing on: the tenant is in its trial),
plus a small test-control server (in this process, not in Lily) that plays the phone
network: it posts correctly signed Twilio webhooks (a missed call, a customer's text with
photos) and tells what the stand-in was asked to send.

Run by Playwright's webServer (web/playwright.config.ts) as `../.venv/bin/python e2e/server.py`,
after `npm run build`. Ports: E2E_LILY_PORT (8311) and E2E_CONTROL_PORT (8312).

Control API (JSON): GET /ready (200 once Lily is up), POST /call {"from"}, POST /sms
{"from", "text", "photos"}, POST /booking {"phone", "name", "start", "end"} (a signed Cal.com
booking), GET /messages (what Lily sent through the stand-in), GET /tenant."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

WEB = Path(__file__).resolve().parents[1]
ROOT = WEB.parent
sys.path.insert(0, str(ROOT))

from lily_adapters.calcom import SIGNATURE_HEADER, sign  # noqa: E402
from tests.standins.stripe import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, StripeStandIn  # noqa: E402
from tests.standins.twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioStandIn  # noqa: E402

LILY_PORT = int(os.environ.get("E2E_LILY_PORT", "8311"))
CONTROL_PORT = int(os.environ.get("E2E_CONTROL_PORT", "8312"))
LILY_URL = f"http://127.0.0.1:{LILY_PORT}"
LILY = [sys.executable, "-c", "from lily_cli.main import main; main()"]

BUSINESS_PHONE = "+15125550100"
FORWARD_TO = "+15125550199"
EMAIL = "owner@acme.test"
PASSWORD = "correct horse battery staple"
PRICEBOOK = {
    "currency": "USD",
    "minimum_charge": 150,
    "round_to": 5,
    "service_area": {
        "base_zip": "78701",
        "radius_miles": 30,
        "free_miles": 15,
        "travel_fee_per_mile": 2,
        "extra_zips": [],
        "excluded_zips": [],
    },
    "services": [
        {"key": "house_wash", "name": "House wash", "keywords": ["house", "home", "siding"],
         "low": 250, "high": 450},
        {"key": "driveway", "name": "Driveway", "keywords": ["driveway", "concrete"],
         "low": 100, "high": 225},
    ],
    "modifiers": [
        {"key": "two_story", "name": "Two story", "keywords": ["two story", "2 story"],
         "multiplier": 1.25},
    ],
    "default_services": ["house_wash"],
}  # fmt: skip


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain-colour PNG (a customer's "photo" the stand-in serves as MMS media)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class Harness:
    def __init__(self, data: Path, twilio: TwilioStandIn, stripe: StripeStandIn) -> None:
        self.data, self.twilio = data, twilio
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LILY_")} | {
            "LILY_DATABASE_URL": f"sqlite:///{data / 'lily.db'}",
            "LILY_DATA_DIR": str(data / "files"),
            "LILY_PUBLIC_URL": LILY_URL,
            "LILY_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "LILY_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "LILY_TWILIO_API_URL": twilio.url,
            "LILY_STRIPE_SECRET_KEY": DEFAULT_API_KEY,
            "LILY_STRIPE_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
            "LILY_STRIPE_API_URL": stripe.url,
            "LILY_STRIPE_PRICE_STARTER": "price_starter",
            "LILY_STRIPE_PRICE_PRO": "price_pro",
            "LILY_JITTER_MIN_SECONDS": "0.2",
            "LILY_JITTER_MAX_SECONDS": "0.5",
            "LILY_LOG_FORMAT": "pretty",
            "LILY_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.sid = 0
        self.lock = threading.Lock()

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*LILY, *args], env=self.env, cwd=self.data, input=stdin, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"lily {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def set_up(self) -> None:
        self.cli("db", "upgrade")
        tenant = json.loads(
            self.cli(
                *("tenant", "create", "--name", "Acme Wash Co", "--phone", BUSINESS_PHONE),
                *("--forward-to", FORWARD_TO, "--zip", "78701", "--timezone", "America/Chicago"),
                *("--booking-url", "https://cal.com/acme/wash", "--json"),
            )
        )
        self.slug, self.calcom_secret = tenant["slug"], tenant["calcom_secret"]
        self.cli(
            *("user", "add", "--tenant", self.slug, "--email", EMAIL, "--role", "owner"),
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        book = self.data / "pricebook.json"
        book.write_text(json.dumps(PRICEBOOK))
        self.cli("pricebook", "import", self.slug, str(book))

    def serve(self, log: Path) -> None:
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [*LILY, "serve", "--port", str(LILY_PORT)], env=self.env, cwd=self.data,
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"lily serve exited ({self.process.returncode}): see {log}")
            try:
                if httpx.get(f"{LILY_URL}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("lily serve did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    # -- the phone network --

    def next_sid(self, prefix: str) -> str:
        with self.lock:
            self.sid += 1
            return f"{prefix}{self.sid:032x}"

    def post_signed(self, path: str, form: dict[str, str]) -> httpx.Response:
        url = LILY_URL + path
        signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(url, form)
        response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
        response.raise_for_status()
        return response

    def missed_call(self, caller: str) -> None:
        form = {
            "AccountSid": DEFAULT_ACCOUNT_SID,
            "CallSid": self.next_sid("CA"),
            "From": caller,
            "To": BUSINESS_PHONE,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        self.post_signed("/webhooks/twilio/voice", form)
        outcome = {"CallStatus": "in-progress", "DialCallStatus": "no-answer",
                   "DialCallSid": self.next_sid("CA")}  # fmt: skip
        self.post_signed("/webhooks/twilio/voice", form | outcome)

    def text(self, sender: str, body: str, photos: int) -> None:
        sid = self.next_sid("MM" if photos else "SM")
        form = {
            "AccountSid": DEFAULT_ACCOUNT_SID,
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "From": sender,
            "To": BUSINESS_PHONE,
            "Body": body,
            "NumMedia": str(photos),
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        colours = [(56, 140, 220), (120, 180, 90), (230, 160, 60)]
        for i in range(photos):
            form[f"MediaUrl{i}"] = self.twilio.add_media("image/png", png(96, 72, colours[i % 3]))
            form[f"MediaContentType{i}"] = "image/png"
        self.post_signed("/webhooks/twilio/sms", form)

    def booking(self, phone: str, name: str, start: str, end: str) -> None:
        """A Cal.com BOOKING_CREATED (the 2021-10-20 webhook shape), signed with the tenant's
        secret."""
        address = "1200 Barton Springs Rd, Austin, TX 78704"
        payload = {
            "type": "house-wash-estimate",
            "title": "House wash estimate",
            "startTime": start,
            "endTime": end,
            "organizer": {"name": "Sam Owner", "timeZone": "America/Chicago"},
            "attendees": [{"name": name, "email": "pat@example.com",
                           "timeZone": "America/Chicago", "phoneNumber": phone}],
            "location": address,
            "uid": self.next_sid("cal-"),
            "status": "ACCEPTED",
        }  # fmt: skip
        body = json.dumps(
            {"triggerEvent": "BOOKING_CREATED", "createdAt": start, "payload": payload}
        ).encode()
        response = httpx.post(
            f"{LILY_URL}/webhooks/calcom/{self.slug}",
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.calcom_secret, body),
            },
            timeout=10,
        )
        response.raise_for_status()

    def sent(self) -> list[dict[str, Any]]:
        return [
            {"to": m.to, "from": m.from_, "body": m.body, "media_urls": m.media_urls}
            for m in list(self.twilio.messages)
        ]


def control_server(harness: Harness) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/ready":
                self.answer(200, {"lily": LILY_URL})
            elif self.path == "/messages":
                self.answer(200, harness.sent())
            elif self.path == "/tenant":
                self.answer(200, {"slug": harness.slug, "email": EMAIL, "password": PASSWORD})
            else:
                self.answer(404, {"error": "no such control"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            try:
                if self.path == "/call":
                    harness.missed_call(body["from"])
                elif self.path == "/sms":
                    harness.text(body["from"], body.get("text", ""), int(body.get("photos", 0)))
                elif self.path == "/booking":
                    harness.booking(body["phone"], body["name"], body["start"], body["end"])
                else:
                    self.answer(404, {"error": "no such control"})
                    return
            except httpx.HTTPStatusError as exc:
                self.answer(502, {"error": f"Lily answered {exc.response.status_code}"})
                return
            self.answer(200, {"ok": True})

    return ThreadingHTTPServer(("127.0.0.1", CONTROL_PORT), Handler)


def install_dashboard() -> None:
    """`lily serve` serves the dashboard from lily_http/web, where an editable install puts
    web/out (setup.py's build_dashboard): the same copy, of the export just built."""
    export = WEB / "out"
    if not (export / "index.html").is_file():
        raise SystemExit("web/out is missing: run `npm run build` in web/ first")
    target = ROOT / "lily_http" / "web"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(export, target)


def main() -> None:
    install_dashboard()
    results = WEB / "test-results"
    results.mkdir(exist_ok=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with (
        tempfile.TemporaryDirectory(prefix="lily-e2e-") as tmp,
        TwilioStandIn() as twilio,
        StripeStandIn(prices={"price_starter": 4900, "price_pro": 9900}) as stripe,
    ):
        harness = Harness(Path(tmp), twilio, stripe)
        try:
            harness.set_up()
            harness.serve(results / "lily-serve.log")
            control = control_server(harness)
            threading.Thread(target=control.serve_forever, daemon=True).start()
            print(
                f"lily at {LILY_URL}, test control at http://127.0.0.1:{CONTROL_PORT}", flush=True
            )
            stopping.wait()
            control.shutdown()
        finally:
            harness.stop()


if __name__ == "__main__":
    main()
