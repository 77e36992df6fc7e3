"""Chatwoot: authenticating and parsing its webhooks, and posting replies through its API.

Webhook authentication. Chatwoot versions that sign send `X-Chatwoot-Signature:
sha256=<hex>` (HMAC-SHA256 with the webhook's secret over `{X-Chatwoot-Timestamp}.{raw body}`,
the timestamp in Unix seconds) and `X-Chatwoot-Timestamp`. Older ones sign nothing, so the
tenant's webhook URL then carries its secret as a query token (`?token=...`).

Replies. `POST {base}/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages`
with the `api_access_token` header; Chatwoot answers with the created message as JSON.
Chatwoot takes no idempotency key: a reply whose answer was lost (a read timeout, a cut
connection) is DeliveryOutcomeUnknown, never repeated blindly; one that certainly did nothing
(no connection, a 429, a 5xx) is retried through the provider policy (a circuit breaker per
Chatwoot, bounded jittered retries).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
from loguru import logger

from lily_adapters.metrics import provider_call
from lily_adapters.provider_policy import ProviderPolicy
from lily_core.domain.chatwoot_events import CHATWOOT_ID_MAX, ChatwootAttachment, ChatwootInbound
from lily_core.domain.leads import NAME_MAX, email_or_none
from lily_core.domain.phone import try_normalize_phone
from lily_core.domain.sanitize import load_json
from lily_core.domain.tenant import Tenant
from lily_core.errors import (
    DeliveryOutcomeUnknown,
    InvalidInput,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from lily_core.ports import ChatwootClient

__all__ = [
    "SIGNATURE_TOLERANCE_SECONDS",
    "HttpChatwootClient",
    "UnsupportedChatwootEvent",
    "parse_chatwoot_webhook",
    "verify_chatwoot_request",
]

SIGNATURE_TOLERANCE_SECONDS = 300
# Older Chatwoot versions serialize enums as their integer values.
_MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
_FILE_TYPES = {0: "image", 1: "audio", 2: "video", 3: "file", 4: "location", 5: "fallback"}


class UnsupportedChatwootEvent(InvalidInput):
    """A well-formed webhook for an event Lily does not handle: answer 200 and ignore it."""


def verify_chatwoot_request(
    secret: str | None,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    query_token: str | None,
    *,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """True if the request comes from the tenant's Chatwoot. With an `X-Chatwoot-Signature`
    header, only the signature counts: it must match the body and a timestamp within
    `tolerance` seconds of `now` (replays are refused). Without one, the URL's query token must
    equal the secret. Comparisons are constant-time; a tenant without a secret never passes."""
    if not secret:
        return False
    if signature is not None:
        return _signature_ok(secret, body, signature, timestamp, now, tolerance)
    if not query_token:
        return False
    return hmac.compare_digest(query_token.encode(), secret.encode())


def _signature_ok(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str | None,
    now: float | None,
    tolerance: int,
) -> bool:
    scheme, _, given = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not given or timestamp is None:
        return False
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    signed = timestamp.strip().encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header can hold.
    return hmac.compare_digest(expected.encode(), given.lower().encode())


def parse_chatwoot_webhook(body: bytes) -> ChatwootInbound:
    """Read a Chatwoot `message_created` webhook (Message#webhook_data plus `event`). Raise
    UnsupportedChatwootEvent for any other well-formed event, InvalidInput for anything that
    is not a Chatwoot message payload (an id that is no Chatwoot id included). Strings are
    cleaned (load_json); the sender's name is clipped to what Lily keeps and an email longer
    than any can be is dropped."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise InvalidInput("the body is not a JSON object")
    event = payload.get("event")
    if not isinstance(event, str):
        raise InvalidInput("missing event name", field="event")
    if event != "message_created":
        raise UnsupportedChatwootEvent(f"{event[:100]!r} is not handled", field="event")

    message_type = payload.get("message_type")
    if isinstance(message_type, int) and not isinstance(message_type, bool):
        message_type = _MESSAGE_TYPES.get(message_type)
    if message_type not in _MESSAGE_TYPES.values():
        raise InvalidInput("missing or unknown message_type", field="message_type")

    conversation = _object(payload, "conversation")
    account_id = _int(_object(payload, "account"), "id", "account.id")
    inbox = payload.get("inbox")
    inbox_id = (
        _int(inbox, "id", "inbox.id")
        if isinstance(inbox, dict)
        else _int(conversation, "inbox_id", "conversation.inbox_id")
    )
    sender = payload.get("sender")
    if not isinstance(sender, dict):
        meta = conversation.get("meta")
        sender = meta.get("sender") if isinstance(meta, dict) else None
    sender = sender if isinstance(sender, dict) else {}
    content = payload.get("content")
    name = _str_or_none(sender.get("name"))

    return ChatwootInbound(
        event=event,
        message_type=str(message_type),
        is_incoming=message_type == "incoming" and payload.get("private") is not True,
        account_id=account_id,
        inbox_id=inbox_id,
        conversation_id=_int(conversation, "id", "conversation.id"),
        message_id=_int(payload, "id", "id"),
        content=content if isinstance(content, str) else "",
        sender_name=name[:NAME_MAX] if name else None,
        sender_phone=try_normalize_phone(_str_or_none(sender.get("phone_number"))),
        sender_email=email_or_none(_str_or_none(sender.get("email"))),
        attachments=_attachments(payload.get("attachments")),
    )


def _object(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise InvalidInput(f"missing {name} object", field=name)
    return value


def _int(payload: dict[str, Any], name: str, path: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("missing or not an integer", field=path)
    if not 1 <= value <= CHATWOOT_ID_MAX:
        raise InvalidInput(f"is not between 1 and {CHATWOOT_ID_MAX}", field=path)
    return value


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _attachments(raw: object) -> tuple[ChatwootAttachment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInput("attachments is not a list", field="attachments")
    found = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidInput("an attachment is not an object", field="attachments")
        url, file_type = item.get("data_url"), item.get("file_type")
        if isinstance(file_type, int) and not isinstance(file_type, bool):
            file_type = _FILE_TYPES.get(file_type)
        # Location and contact cards carry no file; there is nothing to fetch.
        if isinstance(url, str) and url and isinstance(file_type, str):
            found.append(ChatwootAttachment(url, file_type))
    return tuple(found)


class HttpChatwootClient(ChatwootClient):
    """Posts replies into Chatwoot conversations with one platform API token (an agent or
    bot user's `api_access_token` that belongs to the tenants' accounts)."""

    def __init__(
        self,
        base_url: str,
        api_token: str,
        timeout: float = 10.0,
        policy: ProviderPolicy | None = None,
    ) -> None:
        self._policy = policy or ProviderPolicy(sends_per_second=None, attempts=1)
        # one platform token per Chatwoot: its breaker is the instance's (named by its host)
        self._instance = httpx.URL(base_url).netloc.decode() or "-"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"api_access_token": api_token, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpChatwootClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reply(self, tenant: Tenant, conversation_id: int, body: str) -> str:
        if tenant.chatwoot_account_id is None:
            raise PermanentDeliveryError(f"tenant {tenant.slug} has no Chatwoot account")
        path = (
            f"/api/v1/accounts/{tenant.chatwoot_account_id}"
            f"/conversations/{conversation_id}/messages"
        )
        payload = {"content": body, "message_type": "outgoing", "private": False}
        return self._policy.call(
            "chatwoot", self._instance, lambda: self._post(path, payload, tenant)
        )

    def _post(self, path: str, payload: dict[str, Any], tenant: Tenant) -> str:
        with provider_call("chatwoot", "reply"):
            try:
                response = self._http.post(path, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise TransientDeliveryError(f"Chatwoot unreachable: {exc!r}") from exc
            except httpx.TransportError as exc:  # sent, but the answer is lost
                raise DeliveryOutcomeUnknown(f"Chatwoot's answer was lost: {exc!r}") from exc
            if response.is_success:
                return _message_id(response, tenant)
            raise _delivery_error(response)


def _message_id(response: httpx.Response, tenant: Tenant) -> str:
    try:
        message_id = response.json().get("id")
    except (ValueError, AttributeError):
        message_id = None
    if message_id is None:
        # The message was posted; raising would make the task post it a second time.
        logger.bind(tenant_id=tenant.id).warning("Chatwoot answered without a message id")
        return ""
    return str(message_id)


def _delivery_error(response: httpx.Response) -> Exception:
    status = response.status_code
    message = f"Chatwoot answered {status}: {response.text[:200]}"
    if status == 429 or status == 408 or status >= 500:
        return TransientDeliveryError(message, code=str(status), retry_after=_retry_after(response))
    return PermanentDeliveryError(message, code=str(status))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
