"""A local stand-in for Google's OAuth token endpoint and the Calendar v3 events API.

It speaks the wire format the real services do (JSON bodies and Google's error envelope,
`{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}`), checks the
JWT-bearer grant's RS256 signature against the service account's public key, requires the
Bearer token it issued, and keeps deleted events as status "cancelled" the way Google does
(so inserting their id again is a 409 and deleting them again a 410).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CALENDAR_EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
DEFAULT_CALENDAR = "crew@group.calendar.google.com"
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_EVENTS = re.compile(r"^/calendars/([^/]+)/events(?:/([^/]+))?$")


@attrs.frozen
class ServiceAccountKey:
    path: Path
    client_email: str
    public_key_pem: bytes


@functools.cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_service_account_key(
    directory: Path, token_uri: str, *, key_index: int = 0
) -> ServiceAccountKey:
    """Write a service-account JSON key whose token_uri is `token_uri`, in the format the
    Google Cloud console downloads. RSA keys are generated once per `key_index` per test
    session (generation is slow); use another index for a key the stand-in must not know."""
    private = _rsa_key(key_index)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    email = "lily-calendar@lily-test.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": "lily-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info, indent=2))
    return ServiceAccountKey(path, email, public_pem)


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class ScriptedFailure:
    status: int
    reason: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class GoogleStandIn:
    """`with GoogleStandIn() as google:` serves on `google.url` (token endpoint at
    `google.token_uri`, Calendar API at `google.calendar_api_url`) until the block ends.

    Trust a service account with `trust(key)`; `events[calendar_id][event_id]` holds the
    event resources (cancelled ones included); `fail_next(status)` makes the next Calendar
    API request fail with Google's error body, `go_down(status)` every one until `come_back()`;
    `token_requests` counts token grants."""

    def __init__(self, calendars: tuple[str, ...] = (DEFAULT_CALENDAR,)) -> None:
        self.events: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in calendars}
        self.requests: list[RecordedRequest] = []
        self.token_requests = 0
        self.token_expires_in = 3600
        self.issued_tokens: set[str] = set()
        self._trusted: dict[str, bytes] = {}
        self._failures: list[ScriptedFailure] = []
        self.outage: ScriptedFailure | None = None
        self._lock = threading.RLock()
        self._sequence = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def calendar_api_url(self) -> str:
        return f"{self.url}/calendar/v3"

    def __enter__(self) -> GoogleStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # -- scripting ------------------------------------------------------------------------

    def trust(self, key: ServiceAccountKey) -> None:
        self._trusted[key.client_email] = key.public_key_pem

    def add_calendar(self, calendar_id: str) -> None:
        with self._lock:
            self.events.setdefault(calendar_id, {})

    def fail_next(self, status: int, reason: str = "") -> None:
        """The next Calendar API request answers `status` with Google's error envelope
        (`reason` in its errors[]; a 429 also carries Retry-After: 7)."""
        with self._lock:
            self._failures.append(ScriptedFailure(status, reason or _default_reason(status)))

    def go_down(self, status: int = 503) -> None:
        """Every Calendar API request answers `status` until `come_back()`."""
        with self._lock:
            self.outage = ScriptedFailure(status, _default_reason(status))

    def come_back(self) -> None:
        with self._lock:
            self.outage = None

    def revoke_tokens(self) -> None:
        with self._lock:
            self.issued_tokens.clear()

    def live_events(self, calendar_id: str) -> dict[str, dict[str, Any]]:
        """The events of a calendar that are not cancelled (deep copies)."""
        with self._lock:
            return {
                eid: copy.deepcopy(ev)
                for eid, ev in self.events.get(calendar_id, {}).items()
                if ev.get("status") != "cancelled"
            }

    # -- the token endpoint ---------------------------------------------------------------

    def handle_token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER or "assertion" not in form:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type")
        try:
            unverified = jwt.decode(form["assertion"], verify=False)  # type: ignore[no-untyped-call]
            public_key = self._trusted[unverified["iss"]]
            # google-auth posts to the key's token_uri but always addresses the JWT to
            # Google's token endpoint, which is what the real server checks.
            audiences = [GOOGLE_TOKEN_AUDIENCE, self.token_uri]
            claims = jwt.decode(  # type: ignore[no-untyped-call]
                form["assertion"], certs=public_key, audience=audiences
            )
        except (KeyError, ValueError) as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT: {exc}")
        if CALENDAR_EVENTS_SCOPE not in str(claims.get("scope", "")).split():
            return _oauth_error("invalid_scope", "calendar.events scope required")
        token = f"ya29.standin-{secrets.token_urlsafe(16)}"
        with self._lock:
            self.token_requests += 1
            self.issued_tokens.add(token)
        return 200, {
            "access_token": token,
            "expires_in": self.token_expires_in,
            "token_type": "Bearer",
        }

    # -- the Calendar API -----------------------------------------------------------------

    def handle_calendar(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if token not in self.issued_tokens:
                return _error(401, "authError", "Request had invalid authentication credentials.")
            failure = self._failures.pop(0) if self._failures else self.outage
            if failure is not None:
                return _error(failure.status, failure.reason, f"scripted {failure.status}")
            match = _EVENTS.match(path)
            if not match:
                return _error(404, "notFound", "Not Found")
            calendar_id, event_id = unquote(match[1]), match[2] and unquote(match[2])
            calendar = self.events.get(calendar_id)
            if calendar is None:
                return _error(404, "notFound", "Not Found")
            try:
                resource = json.loads(body) if body else {}
            except ValueError:
                return _error(400, "parseError", "Parse Error")
            if event_id is None:
                if method == "POST":
                    return self._insert(calendar_id, calendar, resource)
                return _error(405, "methodNotAllowed", "Method not allowed")
            return self._on_event(method, calendar, event_id, resource)

    def _insert(
        self, calendar_id: str, calendar: dict[str, dict[str, Any]], resource: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        event_id = resource.get("id") or secrets.token_hex(13)
        if not _EVENT_ID.match(event_id):
            return _error(400, "invalid", "Invalid resource id value.")
        if event_id in calendar:
            return _error(409, "duplicate", "The requested identifier already exists.")
        invalid = _invalid_times(resource)
        if invalid:
            return _error(400, "required" if "Missing" in invalid else "timeRangeEmpty", invalid)
        stamp = _now()
        event = {
            "kind": "calendar#event",
            "status": "confirmed",
            **resource,
            "id": event_id,
            "etag": f'"{next(self._sequence)}"',
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": stamp,
            "updated": stamp,
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "creator": {"email": calendar_id},
            "organizer": {"email": calendar_id, "self": True},
        }
        calendar[event_id] = event
        return 200, copy.deepcopy(event)

    def _on_event(
        self,
        method: str,
        calendar: dict[str, dict[str, Any]],
        event_id: str,
        resource: dict[str, Any],
    ) -> tuple[int, dict[str, Any] | None]:
        event = calendar.get(event_id)
        if event is None:
            return _error(404, "notFound", "Not Found")
        if method == "GET":
            return 200, copy.deepcopy(event)
        if method == "DELETE":
            if event["status"] == "cancelled":
                return _error(410, "deleted", "Resource has been deleted")
            event.update(status="cancelled", updated=_now())
            return 204, None
        if method in ("PUT", "PATCH"):
            if method == "PUT":
                kept = {
                    k: event[k]
                    for k in (
                        "kind",
                        "id",
                        "htmlLink",
                        "created",
                        "iCalUID",
                        "creator",
                        "organizer",
                        "sequence",
                    )
                }
                updated = {"status": event["status"], **resource, **kept}
            else:
                updated = {**event, **resource, "id": event_id}
            invalid = _invalid_times(updated)
            if invalid:
                return _error(400, "required", invalid)
            updated.update(
                etag=f'"{next(self._sequence)}"', updated=_now(), sequence=event["sequence"] + 1
            )
            calendar[event_id] = updated
            return 200, copy.deepcopy(updated)
        return _error(405, "methodNotAllowed", "Method not allowed")


def _invalid_times(resource: dict[str, Any]) -> str | None:
    times = []
    for key in ("start", "end"):
        value = resource.get(key)
        if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
            return f"Missing {key} time."
        raw = value.get("dateTime") or value["date"]
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return f"Invalid {key} time."
        if "dateTime" in value and moment.tzinfo is None and not value.get("timeZone"):
            return f"Missing time zone definition for {key} time."
        times.append(moment)
    if all(t.tzinfo for t in times) and times[1] < times[0]:
        return "The specified time range is empty."
    return None


def _default_reason(status: int) -> str:
    return {
        400: "badRequest",
        401: "authError",
        403: "forbidden",
        404: "notFound",
        409: "duplicate",
        429: "rateLimitExceeded",
        500: "backendError",
        503: "backendError",
    }.get(status, "error")


def _oauth_error(error: str, description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": error, "error_description": description}


def _error(status: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


def _handler_for(standin: GoogleStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            payload: dict[str, Any] | None
            if path == "/token" and self.command == "POST":
                status, payload = standin.handle_token(body)
            elif path.startswith("/calendar/v3/"):
                status, payload = standin.handle_calendar(
                    self.command, path.removeprefix("/calendar/v3"), headers, body
                )
            else:
                status, payload = 404, {"error": {"code": 404, "message": "Not Found"}}
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            if status == 429:
                self.send_header("Retry-After", "7")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def running_google(directory: Path) -> Iterator[tuple[GoogleStandIn, ServiceAccountKey]]:
    """A started stand-in and a key file it trusts, written under `directory`."""
    with GoogleStandIn() as google:
        key = write_service_account_key(directory, google.token_uri)
        google.trust(key)
        yield google, key
