"""A local Twilio REST API stand-in speaking the 2010-04-01 wire format (enough of it for
Lily): Messages create and list (To, From, DateSent filters) and MMS media download, over
real HTTP in a background thread."""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "standin_auth_token_0123456789abcdef"

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")
_MEDIA = re.compile(
    r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/(\w+)/Media/(ME[0-9a-f]{32})$"
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class RecordedMessage:
    """One accepted Messages create call, as the stand-in understood it."""

    account_sid: str
    sid: str
    to: str
    from_: str | None
    body: str | None
    media_urls: list[str]
    status_callback: str | None
    form: dict[str, list[str]]
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    authorization: str | None


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str
    retry_after: str | None


@dataclass
class _Media:
    account_sid: str
    content_type: str
    data: bytes
    declare_length: bool
    cdn_token: str = field(default_factory=lambda: secrets.token_hex(16))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that timed out and hung up is expected here, not worth a traceback
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's (legacy) REST error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class TwilioStandIn:
    """`with TwilioStandIn() as twilio:` serves at `twilio.url` until the block ends.

    `accounts` maps account SIDs to auth tokens (basic auth is checked: 401/20003 else).
    `messages` lists accepted messages, `requests` every request seen. `fail_next()` makes
    the next API request (messages or media) fail with a Twilio error body; `hang_next()`
    makes it wait until the stand-in closes, for client timeouts; `drop_next()` makes the
    next Messages create accept the message and then hang up without answering (the
    client cannot know it was sent). Media added with
    `add_media()` answers 307 to `/cdn/...` on this server, which serves it without auth.
    """

    def __init__(self, accounts: Mapping[str, str] | None = None) -> None:
        self.accounts = dict(accounts or {DEFAULT_ACCOUNT_SID: DEFAULT_AUTH_TOKEN})
        self.messages: list[RecordedMessage] = []
        self.requests: list[RecordedRequest] = []
        self.queries: list[dict[str, list[str]]] = []  # of each Messages list request
        self._failures: list[_Failure] = []
        self._hangs = 0
        self._drops = 0
        self.outage: _Failure | None = None  # every API request fails so while set
        self._release = threading.Event()
        self._media: dict[str, _Media] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def fail_next(
        self, status: int, code: int, message: str = "error", *, retry_after: str | None = None
    ) -> None:
        with self._lock:
            self._failures.append(_Failure(status, code, message, retry_after))

    def hang_next(self) -> None:
        with self._lock:
            self._hangs += 1

    def go_down(self, status: int = 503, code: int = 20503) -> None:
        """Every API request fails with `status` until `come_back()`."""
        with self._lock:
            self.outage = _Failure(status, code, "Service Unavailable", None)

    def come_back(self) -> None:
        with self._lock:
            self.outage = None

    def drop_next(self) -> None:
        with self._lock:
            self._drops += 1

    def _take_drop(self) -> bool:
        with self._lock:
            drop = self._drops > 0
            self._drops -= int(drop)
            return drop

    def add_media(
        self,
        content_type: str,
        data: bytes,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        declare_length: bool = True,
    ) -> str:
        """Register a media file; return its Twilio-style (auth-protected) URL. Without
        `declare_length` the CDN sends it with no Content-Length (ended by closing)."""
        media_sid = "ME" + secrets.token_hex(16)
        message_sid = "MM" + secrets.token_hex(16)
        with self._lock:
            self._media[media_sid] = _Media(account_sid, content_type, data, declare_length)
        return (
            f"{self.url}/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"
        )

    # -- called from the handler threads --

    def _take_scripted(self) -> _Failure | None:
        with self._lock:
            if self.outage is not None:
                return self.outage
            hang = self._hangs > 0
            self._hangs -= int(hang)
            failure = self._failures.pop(0) if self._failures and not hang else None
        if hang:
            self._release.wait(30)
        return failure

    def _authorized(self, account_sid: str, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == account_sid and self.accounts.get(user) == password

    def _create_message(self, account_sid: str, form: dict[str, list[str]]) -> tuple[int, Any]:
        def one(name: str) -> str | None:
            return form.get(name, [None])[0]

        to, from_, body = one("To"), one("From"), one("Body")
        media = form.get("MediaUrl", [])
        if not to:
            return 400, twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not one("MessagingServiceSid"):
            return 400, twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            return 400, twilio_error(400, 21602, "Message body is required.")
        if not _E164.match(to):
            return 400, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        recorded = RecordedMessage(
            account_sid, sid, to, from_, body, media, one("StatusCallback"), form
        )
        with self._lock:
            self.messages.append(recorded)
        return 201, _resource(recorded, status="queued", date_sent=None)

    def _list_messages(self, account_sid: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """Messages list, newest first: To and From match exactly; DateSent (a day),
        DateSent< (on or before) and DateSent> (on or after) compare the day a message was
        sent, which the stand-in takes as the day it was created (it sends at once);
        PageSize (default 50, at most 1000) bounds the one page it answers."""

        def one(name: str) -> str | None:
            return query.get(name, [None])[0]

        try:
            days = {op: _day(one(name)) for op, name in
                    (("=", "DateSent"), ("<=", "DateSent<"), (">=", "DateSent>"))}  # fmt: skip
            size = int(one("PageSize") or 50)
        except ValueError:
            return 400, twilio_error(400, 20001, "Invalid query parameter")
        if not 1 <= size <= 1000:
            return 400, twilio_error(400, 20001, "Invalid PageSize")

        def keep(m: RecordedMessage) -> bool:
            sent = m.date_created.date()
            return (
                m.account_sid == account_sid
                and one("To") in (None, m.to)
                and one("From") in (None, m.from_)
                and days["="] in (None, sent)
                and (days["<="] is None or sent <= days["<="])
                and (days[">="] is None or sent >= days[">="])
            )

        with self._lock:
            found = [m for m in self.messages if keep(m)]
        found.sort(key=lambda m: m.date_created, reverse=True)
        page = found[:size]
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        return 200, {
            "end": max(len(page) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={size}&Page=0",
            "messages": [_resource(m, status="sent", date_sent=m.date_created) for m in page],
        }


def _day(value: str | None) -> date | None:
    """A DateSent filter's day: YYYY-MM-DD, or an ISO date-time (as twilio-python sends)."""
    if value is None:
        return None
    return (
        datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        if "T" in value
        else (date.fromisoformat(value))
    )


def _resource(m: RecordedMessage, *, status: str, date_sent: datetime | None) -> dict[str, Any]:
    """A Message resource as Twilio's API answers it."""
    created = format_datetime(m.date_created)
    base = f"/2010-04-01/Accounts/{m.account_sid}/Messages/{m.sid}"
    return {
        "account_sid": m.account_sid,
        "api_version": "2010-04-01",
        "body": m.body or "",
        "date_created": created,
        "date_sent": format_datetime(date_sent) if date_sent else None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": m.from_,
        "messaging_service_sid": m.form.get("MessagingServiceSid", [None])[0],
        "num_media": str(len(m.media_urls)),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": m.sid,
        "status": status,
        "subresource_uris": {
            "media": f"{base}/Media.json",
            "feedback": f"{base}/Feedback.json",
        },
        "to": m.to,
        "uri": f"{base}.json",
    }


def _handler_for(standin: TwilioStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(
            self, status: int, payload: Any = None, headers: Mapping[str, str] | None = None
        ) -> None:
            raw = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _record(self) -> str:
            path = urlsplit(self.path).path
            with standin._lock:
                standin.requests.append(
                    RecordedRequest(self.command, path, self.headers.get("Authorization"))
                )
            return path

        def _scripted_failure(self) -> bool:
            failure = standin._take_scripted()
            if failure is None:
                return False
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            self._send(
                failure.status, twilio_error(failure.status, failure.code, failure.message), extra
            )
            return True

        def _check_auth(self, account_sid: str) -> bool:
            if standin._authorized(account_sid, self.headers.get("Authorization")):
                return True
            self._send(
                401,
                twilio_error(401, 20003, "Authenticate"),
                {"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
            return False

        def do_POST(self) -> None:
            path = self._record()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            match = _MESSAGES.match(path)
            if match is None:
                self._send(404, twilio_error(404, 20404, "The requested resource was not found"))
                return
            if self._scripted_failure() or not self._check_auth(match[1]):
                return
            form = parse_qs(raw, keep_blank_values=True)
            status, payload = standin._create_message(match[1], form)
            if status == 201 and standin._take_drop():
                self.close_connection = True  # accepted, and no answer: the client cannot know
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(status, payload)

        def do_GET(self) -> None:
            path = self._record()
            if path.startswith("/cdn/"):
                token = path.removeprefix("/cdn/")
                found = next((m for m in standin._media.values() if m.cdn_token == token), None)
                if found is None:
                    self._send(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", found.content_type)
                if found.declare_length:
                    self.send_header("Content-Length", str(len(found.data)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(found.data)
                return
            listing = _MESSAGES.match(path)
            if listing is not None:
                if self._scripted_failure() or not self._check_auth(listing[1]):
                    return
                query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                with standin._lock:
                    standin.queries.append(query)
                self._send(*standin._list_messages(listing[1], query))
                return
            match = _MEDIA.match(path)
            if match is None:
                self._send(404, twilio_error(404, 20404, "The requested resource was not found"))
                return
            if self._scripted_failure() or not self._check_auth(match[1]):
                return
            media = standin._media.get(match[3])
            if media is None or media.account_sid != match[1]:
                self._send(404, twilio_error(404, 20404, "The requested resource was not found"))
                return
            self._send(307, None, {"Location": f"/cdn/{media.cdn_token}"})

    return Handler
