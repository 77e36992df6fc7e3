"""Chatwoot webhook: `message_created` from a tenant's Chatwoot inbox (DESIGN §2.2.1).

Read the body (capped), find the tenant by slug (404), authenticate the request with the
tenant's Chatwoot secret (signature headers, or the `?token=` of older Chatwoot versions) —
403 before anything is stored — parse, record the message, and advance the conversation.
Events Lily does not act on answer 200 `{"status": "ignored"}` so that Chatwoot does not
retry them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.concurrency import run_in_threadpool

from lily_adapters import metrics
from lily_adapters.chatwoot import (
    UnsupportedChatwootEvent,
    parse_chatwoot_webhook,
    verify_chatwoot_request,
)
from lily_core.domain.chatwoot_events import CHATWOOT_ID_MAX
from lily_core.errors import InvalidInput
from lily_core.use_cases.chatwoot_inbound import IgnoredChatwootMessage
from lily_core.use_cases.inbound import needs_advancing
from lily_http.bodies import read_body
from lily_http.deps import ContainerDep, RequestIdDep, find_tenant, rejected
from lily_http.openapi_shapes import WebhookAck, errors, header, json_body, query

router = APIRouter(prefix="/webhooks/chatwoot", tags=["webhooks"])
# Chatwoot caps a message at 150,000 characters: at most ~600 KB of UTF-8 in the JSON, with
# the conversation and contact around it. 1 MiB holds the largest message Chatwoot sends.
MAX_BODY_BYTES = 1024 * 1024

_ID = {"type": "integer", "minimum": 1, "maximum": CHATWOOT_ID_MAX}
_OBJECT_WITH_ID = {"type": "object", "required": ["id"], "properties": {"id": _ID}}
MESSAGE_WEBHOOK = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {
            "type": "string",
            "description": "message_created is acted on; other events are ignored (200)",
        },
        "id": _ID,
        "message_type": {
            "description": "incoming (0) is acted on; outgoing, activity and template are ignored",
            "oneOf": [{"type": "string"}, {"type": "integer"}],
        },
        "private": {"type": "boolean"},
        "content": {"type": ["string", "null"]},
        "account": _OBJECT_WITH_ID,
        "inbox": _OBJECT_WITH_ID,
        "conversation": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": _ID, "inbox_id": _ID, "meta": {"type": "object"}},
        },
        "sender": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string"},
                "phone_number": {"type": "string"},
            },
        },
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"file_type": {}, "data_url": {"type": "string"}},
            },
        },
    },
}


def ignored(reason: str) -> JSONResponse:
    return JSONResponse({"status": "ignored", "reason": reason})


@router.post(
    "/{tenant_slug}",
    responses={
        200: {"model": WebhookAck, "description": "Recorded, or ignored"},
        **errors(400, 403, 404, 413),
    },
    openapi_extra={
        "parameters": [
            header(
                "X-Chatwoot-Signature",
                "sha256=<hex HMAC-SHA256 of '{timestamp}.{body}'>",
                required=False,
            ),
            header("X-Chatwoot-Timestamp", "Unix seconds; within 5 minutes", required=False),
            query("token", "the tenant's secret, for Chatwoot versions that do not sign"),
        ],
        "requestBody": json_body(MESSAGE_WEBHOOK),
    },
)
async def chatwoot_webhook(
    tenant_slug: str, request: Request, container: ContainerDep, request_id: RequestIdDep
) -> JSONResponse:
    body = await read_body(request, MAX_BODY_BYTES)

    tenant = await find_tenant(container, slug=tenant_slug)
    log = logger.bind(tenant=tenant.slug)
    if not verify_chatwoot_request(
        tenant.chatwoot_secret,
        body,
        request.headers.get("x-chatwoot-signature"),
        request.headers.get("x-chatwoot-timestamp"),
        request.query_params.get("token"),
        now=container.clock().now().timestamp(),
    ):
        log.warning("chatwoot: bad signature or token")
        metrics.SIGNATURE_FAILURES.labels("chatwoot").inc()
        raise HTTPException(403, "invalid Chatwoot signature or token")
    try:
        event = parse_chatwoot_webhook(body)
    except UnsupportedChatwootEvent as exc:
        log.bind(reason=exc.reason).info("chatwoot event ignored")
        return ignored(exc.reason)
    except InvalidInput as exc:
        raise rejected(log, "chatwoot: malformed webhook", exc) from None
    if not event.is_incoming:
        log.bind(message_type=event.message_type).info("chatwoot message ignored")
        return ignored(f"{event.message_type} message")
    try:
        result = await run_in_threadpool(
            container.handle_chatwoot_message(), tenant, event, request_id=request_id
        )
    except IgnoredChatwootMessage as exc:
        log.bind(reason=exc.reason).info("chatwoot message ignored")
        return ignored(exc.reason)
    log = log.bind(chatwoot_message=event.dedupe_key, outcome=str(result.outcome))
    if needs_advancing(result) and result.lead_id and result.message_id:
        advanced = await run_in_threadpool(
            container.advance_conversation(),
            tenant,
            result.lead_id,
            result.message_id,
            request_id=request_id,
        )
        log = log.bind(conversation=str(advanced.outcome))
    log.info("chatwoot webhook")
    return JSONResponse({"status": str(result.outcome)})
