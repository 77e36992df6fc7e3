"""A local Stripe API stand-in speaking Stripe's wire format (enough of it for Lily), over
real HTTP in a background thread: customers, Checkout Sessions, Billing Portal sessions and
subscriptions (retrieve, list by customer), with bearer-key auth, form-encoded bodies with
Stripe's nested `a[b][0][c]` keys, idempotency keys (a replay answers the first answer; the
same key with other parameters is an `idempotency_error`), and Stripe's error bodies. The
objects are Stripe's own examples (tests/fixtures/stripe_objects.json) filled in.

Also what Stripe does outside the API: `complete_checkout` (the customer paid: a
subscription exists), `update_subscription`, and `signed_event`, a webhook event signed as
Stripe signs it (`Stripe-Signature: t=<time>,v1=HMAC-SHA256(secret, "<t>.<body>")`)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

DEFAULT_API_KEY = "sk_test_standin_0123456789abcdef"
DEFAULT_WEBHOOK_SECRET = "whsec_standin_0123456789abcdef"
_TEMPLATES = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "stripe_objects.json").read_text()
)
_KEY = re.compile(r"[^\[\]]+|\[([^\[\]]*)\]")
MONTH = 30 * 24 * 3600


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    replayed: bool


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.body = (
            status,
            {
                "error": {
                    "type": type_,
                    "message": message,
                    **({"code": code} if code else {}),
                    **({"param": param} if param else {}),
                }
            },
        )


def decode_form(raw: str) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[tenant_id]=x&line_items[0][price]=p`) as nested
    dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        parts = [m.group(1) if m.group(1) is not None else m.group(0) for m in _KEY.finditer(key)]
        node: Any = root
        for part, following in itertools.pairwise(parts):
            child_is_list = following.isdigit()
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append([] if child_is_list else {})
                node = node[index]
            else:
                node = node.setdefault(part, [] if child_is_list else {})
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


def stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StripeStandIn:
    """`with StripeStandIn(prices={...}) as stripe:` serves at `stripe.url`.

    `prices` are the price ids that exist (a Checkout for another is 400 resource_missing).
    `customers`, `sessions`, `portal_sessions` and `subscriptions` hold the objects by id;
    `requests` lists every request. `fail_next(status)` makes the next API request fail
    with a Stripe error body (500: api_error)."""

    def __init__(
        self, *, prices: Mapping[str, int] | None = None, api_key: str = DEFAULT_API_KEY
    ) -> None:
        self.api_key = api_key
        self.prices = dict(prices or {"price_starter": 4900, "price_pro": 9900})
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self._idempotent: dict[str, tuple[str, int, Any]] = {}
        self._failures: list[int] = []
        self._events = itertools.count(1)
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
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def fail_next(self, status: int = 500) -> None:
        with self._lock:
            self._failures.append(status)

    def creates(self, path: str) -> list[RecordedRequest]:
        """The POSTs to `path` that Stripe acted on (replays left out)."""
        return [
            r for r in self.requests if r.method == "POST" and r.path == path and not r.replayed
        ]

    # -- what happens outside the API ---------------------------------------------------

    def complete_checkout(
        self, session_id: str, *, status: str = "active", at: int | None = None
    ) -> dict[str, Any]:
        """The customer paid on the Checkout page: a subscription to the session's price
        exists (with the session's subscription_data metadata) and the session is complete.
        Returns the subscription."""
        with self._lock:
            session = self.sessions[session_id]
            price = session["_line_items"][0]["price"]
            metadata = dict(session.get("_subscription_metadata") or {})
            now = at or int(time.time())
            subscription = self._new_subscription(session["customer"], price, status, metadata, now)
            session.update(
                status="complete", payment_status="paid", subscription=subscription["id"]
            )
            return copy.deepcopy(subscription)

    def update_subscription(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription.update(changes)
            return copy.deepcopy(subscription)

    def session_object(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return _public(self.sessions[session_id])

    def signed_event(
        self,
        type_: str,
        obj: Mapping[str, Any],
        *,
        created: int,
        secret: str = DEFAULT_WEBHOOK_SECRET,
        signed_at: int | None = None,
        event_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook event of `type_` about `obj`, and the headers Stripe sends it with
        (signed now unless `signed_at`)."""
        event = {
            "id": event_id or f"evt_standin_{next(self._events):06d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "data": {"object": dict(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        body = json.dumps(event).encode()
        signature = stripe_signature(body, secret, signed_at or int(time.time()))
        return body, {"Stripe-Signature": signature, "Content-Type": "application/json"}

    def invoice(self, subscription_id: str, *, paid: bool, created: int) -> dict[str, Any]:
        """An invoice of the subscription (the current API's shape: its subscription under
        parent.subscription_details)."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
        return {
            "id": f"in_{secrets.token_hex(8)}",
            "object": "invoice",
            "customer": subscription["customer"],
            "status": "paid" if paid else "open",
            "amount_due": 9900,
            "amount_paid": 9900 if paid else 0,
            "attempt_count": 1,
            "created": created,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription_id, "metadata": {}},
            },
        }

    # -- the API, called from the handler threads -----------------------------------------

    def _new_subscription(
        self, customer: str, price: str, status: str, metadata: dict[str, Any], now: int
    ) -> dict[str, Any]:
        subscription = copy.deepcopy(_TEMPLATES["subscription"])
        sub_id = f"sub_{secrets.token_hex(12)}"
        item = subscription["items"]["data"][0]
        item.update(id=f"si_{secrets.token_hex(8)}", subscription=sub_id, created=now,
                    current_period_start=now, current_period_end=now + MONTH)  # fmt: skip
        item["price"].update(id=price, unit_amount=self.prices[price], created=now)
        subscription["items"]["url"] = f"/v1/subscription_items?subscription={sub_id}"
        subscription.update(
            id=sub_id, customer=customer, status=status, metadata=metadata, created=now,
            start_date=now, billing_cycle_anchor=now, cancel_at=None, canceled_at=None,
            ended_at=None, latest_invoice=None, livemode=False,
        )  # fmt: skip
        self.subscriptions[sub_id] = subscription
        return subscription

    def _handle(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/customers":
            return 200, self._create_customer(params)
        if method == "GET" and parts[:2] == ["v1", "customers"] and len(parts) == 3:
            return 200, self._get(self.customers, parts[2], "customer")
        if method == "POST" and path == "/v1/checkout/sessions":
            return 200, self._create_checkout(params)
        if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            return 200, _public(self._get(self.sessions, parts[3], "checkout.session"))
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return 200, self._create_portal(params)
        if method == "GET" and parts[:2] == ["v1", "subscriptions"] and len(parts) == 3:
            return 200, self._get(self.subscriptions, parts[2], "subscription")
        if method == "GET" and path == "/v1/subscriptions":
            return 200, self._list_subscriptions(params)
        raise StripeError(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
        )

    def _get(self, table: dict[str, dict[str, Any]], ident: str, what: str) -> dict[str, Any]:
        found = table.get(ident)
        if found is None:
            raise StripeError(404, "invalid_request_error", f"No such {what}: '{ident}'",
                              code="resource_missing", param="id")  # fmt: skip
        return copy.deepcopy(found)

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = copy.deepcopy(_TEMPLATES["customer"])
        customer.update(
            id=f"cus_{secrets.token_hex(7)}", created=int(time.time()), discount=None,
            name=params.get("name"), email=params.get("email"),
            metadata=dict(params.get("metadata") or {}), livemode=False,
        )  # fmt: skip
        self.customers[customer["id"]] = customer
        return copy.deepcopy(customer)

    def _create_checkout(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if mode not in ("payment", "setup", "subscription"):
            raise StripeError(400, "invalid_request_error", "Missing required param: mode.",
                              code="parameter_missing", param="mode")  # fmt: skip
        for name in ("success_url",):
            if not params.get(name):
                raise StripeError(400, "invalid_request_error", f"Missing required param: {name}.",
                                  code="parameter_missing", param=name)  # fmt: skip
        items = params.get("line_items") or []
        if not items or not isinstance(items, list):
            raise StripeError(400, "invalid_request_error", "Missing required param: line_items.",
                              code="parameter_missing", param="line_items")  # fmt: skip
        for i, item in enumerate(items):
            price = item.get("price")
            if price not in self.prices:
                param = f"line_items[{i}][price]"
                raise StripeError(400, "invalid_request_error", f"No such price: '{price}'",
                                  code="resource_missing", param=param)  # fmt: skip
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise StripeError(400, "invalid_request_error", f"No such customer: '{customer}'",
                              code="resource_missing", param="customer")  # fmt: skip
        session = copy.deepcopy(_TEMPLATES["checkout.session"])
        session_id = f"cs_test_{secrets.token_hex(16)}"
        session.update(
            id=session_id, mode=mode, customer=customer, status="open", payment_status="unpaid",
            client_reference_id=params.get("client_reference_id"),
            success_url=params["success_url"], cancel_url=params.get("cancel_url"),
            metadata=dict(params.get("metadata") or {}), created=int(time.time()),
            expires_at=int(time.time()) + 86400, subscription=None, payment_intent=None,
            url=f"https://checkout.stripe.com/c/pay/{session_id}", livemode=False,
        )  # fmt: skip
        session["_line_items"] = items
        session["_subscription_metadata"] = (params.get("subscription_data") or {}).get("metadata")
        self.sessions[session_id] = session
        return _public(session)

    def _create_portal(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        if not customer:
            raise StripeError(400, "invalid_request_error", "Missing required param: customer.",
                              code="parameter_missing", param="customer")  # fmt: skip
        if customer not in self.customers:
            raise StripeError(400, "invalid_request_error", f"No such customer: '{customer}'",
                              code="resource_missing", param="customer")  # fmt: skip
        session = copy.deepcopy(_TEMPLATES["billing_portal.session"])
        session_id = f"bps_{secrets.token_hex(12)}"
        session.update(
            id=session_id, customer=customer, return_url=params.get("return_url"), flow=None,
            created=int(time.time()), livemode=False,
            url=f"https://billing.stripe.com/p/session/test_{secrets.token_hex(12)}",
        )  # fmt: skip
        self.portal_sessions[session_id] = session
        return copy.deepcopy(session)

    def _list_subscriptions(self, params: dict[str, Any]) -> dict[str, Any]:
        customer = params.get("customer")
        found = [s for s in self.subscriptions.values() if customer in (None, s["customer"])]
        if params.get("status", "active") != "all":
            found = [s for s in found if s["status"] == params.get("status", "active")]
        found.sort(key=lambda s: s["created"], reverse=True)
        limit = int(params.get("limit", 10))
        return {
            "object": "list",
            "data": copy.deepcopy(found[:limit]),
            "has_more": len(found) > limit,
            "url": "/v1/subscriptions",
        }

    def _serve(
        self, method: str, path: str, raw: str, headers: Mapping[str, str]
    ) -> tuple[int, Any, bool]:
        query = dict(parse_qsl(urlsplit(path).query))
        path = urlsplit(path).path
        params = decode_form(raw) if method == "POST" else query
        key = headers.get("Idempotency-Key")
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            replayed = False
            try:
                if headers.get("Authorization") != f"Bearer {self.api_key}":
                    raise StripeError(401, "invalid_request_error", "Invalid API Key provided.")
                if failure is not None:
                    raise StripeError(failure, "api_error", "Something went wrong on Stripe's end.")
                if method == "POST" and key and key in self._idempotent:
                    first_raw, status, payload = self._idempotent[key]
                    if first_raw != raw:
                        raise StripeError(400, "idempotency_error",
                                          "Keys for idempotent requests can only be used with the "
                                          "same parameters they were first used with.")  # fmt: skip
                    replayed = True
                else:
                    status, payload = self._handle(method, path, params)
                    if method == "POST" and key:
                        self._idempotent[key] = (raw, status, payload)
            except StripeError as exc:
                status, payload = exc.status, exc.body
            self.requests.append(RecordedRequest(method, path, params, key, replayed))
        return status, payload, replayed


def _public(session: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in session.items() if not k.startswith("_")}


def _handler_for(standin: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            status, payload, replayed = standin._serve(self.command, self.path, raw, self.headers)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

    return Handler
