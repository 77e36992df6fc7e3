"""A local stand-in for Chatwoot's application API: the endpoint Lily posts replies to.

    POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages
    header api_access_token: <token>      (else 401, as Chatwoot answers)
    body {"content": ..., "message_type": "outgoing", "private": false}

answers 200 with the created message in Chatwoot's JSON shape and records it. Put
`ScriptedFailure`s in `fail_next` to have the next requests answer an error (or stall).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

_MESSAGES_PATH = re.compile(r"^/api/v1/accounts/(\d+)/conversations/(\d+)/messages$")


@attrs.frozen
class ScriptedFailure:
    status: int
    body: dict[str, Any] = attrs.field(factory=lambda: {"error": "scripted failure"})
    retry_after: str | None = None
    delay_seconds: float = 0.0  # stall before answering, to trip a client's timeout


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.frozen
class PostedMessage:
    account_id: int
    conversation_id: int
    id: int
    content: str
    message_type: str
    private: bool


class ChatwootStandIn:
    """Runs on 127.0.0.1 on a free port in a daemon thread; use as a context manager."""

    def __init__(self, api_token: str = "cw-test-token") -> None:
        self.api_token = api_token
        self.requests: list[RecordedRequest] = []
        self.messages: list[PostedMessage] = []
        self.fail_next: list[ScriptedFailure] = []
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ChatwootStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str], float]:
        """Returns (status, JSON body, extra headers, delay before answering)."""
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
            failure = self.fail_next.pop(0) if self.fail_next else None
        match = _MESSAGES_PATH.match(path)
        if method != "POST" or match is None:
            return 404, {"error": "Resource could not be found"}, {}, 0.0
        if headers.get("api_access_token") != self.api_token:
            return 401, {"error": "You need to sign in or sign up before continuing."}, {}, 0.0
        if failure is not None:
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return failure.status, failure.body, extra, failure.delay_seconds
        try:
            sent = json.loads(body)
            content = sent["content"]
        except (ValueError, KeyError, TypeError):
            return 422, {"errors": ["content can't be blank"]}, {}, 0.0
        account_id, conversation_id = int(match[1]), int(match[2])
        message_type = sent.get("message_type", "outgoing")
        private = bool(sent.get("private", False))
        with self._lock:
            message = PostedMessage(
                account_id, conversation_id, next(self._ids), content, message_type, private
            )
            self.messages.append(message)
        return 200, _message_json(message), {}, 0.0

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, extra, delay = stand_in._handle(
                    self.command, self.path, headers, body
                )
                if delay:
                    time.sleep(delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            do_POST = do_GET = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _message_json(message: PostedMessage) -> dict[str, Any]:
    # The shape Chatwoot's messages#create renders (api/v1/accounts/conversations/messages).
    return {
        "id": message.id,
        "content": message.content,
        "inbox_id": 1,
        "conversation_id": message.conversation_id,
        "message_type": 1 if message.message_type == "outgoing" else 0,
        "content_type": "text",
        "status": "sent",
        "content_attributes": {},
        "created_at": int(time.time()),
        "private": message.private,
        "source_id": None,
        "sender": {"id": 1, "name": "Lily", "type": "user", "available_name": "Lily"},
        "attachments": [],
        "account_id": message.account_id,
    }
